#!/usr/bin/env bash
# Placeholder until the kernel build lands: says it skipped.
echo "[rnn4j] native/build.sh: kernel build not written yet; skipping"
