#!/bin/sh
# Installs the PyTorch peer for the training benches (benches/voice_train.rs,
# benches/face_train.rs) into a virtual environment at target/torch-venv, which the benches use
# when it exists (FACEVOX_PYTHON overrides it). The peers run on the CPU only.
#
# The PyPI wheel is a CUDA build: it will not import unless its nvidia-* libraries are installed
# too (about 5 GB), even though a CPU benchmark never calls them. The CPU-only index
# (download.pytorch.org) is not reachable from every machine, so the full PyPI wheel with its
# dependencies is installed. The version is pinned so that the ratios in the README are
# reproducible.
set -e
cd "$(dirname "$0")/.."
VENV=target/torch-venv
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet "torch==2.15.0" numpy
"$VENV/bin/python" -c 'import torch; print("torch", torch.__version__, "threads", torch.get_num_threads())'
