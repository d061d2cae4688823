"""Networks: the MLP (:mod:`.mlp`), the DeepONet (:mod:`.deeponet`), and the registries of activations
(:mod:`.activations`) and initializers (:mod:`.initializers`). Imports only core, runtime, config and geometry."""
