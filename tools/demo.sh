#!/usr/bin/env bash
# demo.sh - the main job: set up like tools/test.sh (installs what is missing, builds), then show
# the devices, run the self-check on the selected device (OCLNN_DEVICE, default: first GPU,
# else CPU) and train LeNet on Fashion-MNIST for one epoch when oclnn-train is built.
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=0 SKIP_TESTS=1 bash tools/test.sh >/dev/null
build=${BUILD_DIR:-build}
"$build/tools/oclnn-info"
if [ -x "$build/tools/oclnn-train" ]; then
    "$build/tools/oclnn-train" --model lenet --epochs 1 "$@"
fi
