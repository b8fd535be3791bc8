// Translation unit that carries the project-wide precompiled <torch/torch.h>.
