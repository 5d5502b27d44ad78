#!/usr/bin/env bash
# make bench: snapshot restore figures (bench/snapshot.lua)
cd "$(dirname "$0")/.." && exec build/sm lua bench/snapshot.lua "$@"
