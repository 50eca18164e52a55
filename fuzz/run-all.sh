#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) each, two at a time, seeded from corpus/.
#   ./fuzz/run-all.sh [SECONDS]
# cargo fuzz needs a nightly compiler's flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-600}
export RUSTC_BOOTSTRAP=1
run() { cargo fuzz run -O "$1" "corpus/$1" -- -max_total_time="$secs" -rss_limit_mb=2048 > "logs/$1.log" 2>&1; echo "$1: exit $?" ; tail -1 "logs/$1.log"; }
mkdir -p logs
run graph_models & run snapshot_conversion & wait
run config_parser & run web_config_parser & wait
