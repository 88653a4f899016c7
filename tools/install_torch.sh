#!/bin/sh
# Installs the PyTorch peer for benches/voice_train.rs from PyPI, CPU use only.
#
# The PyPI wheel depends on several GB of CUDA libraries (nvidia-*) that a CPU benchmark never
# loads, and the CPU-only index (download.pytorch.org) is not reachable from every machine, so
# the wheel is installed without its dependencies, followed by its pure-Python ones. torch
# imports and runs on the CPU without the CUDA packages.
set -e
python3 -m pip install --quiet --no-deps "torch>=2.4"
python3 -m pip install --quiet filelock typing_extensions sympy networkx jinja2 fsspec
python3 -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())'
