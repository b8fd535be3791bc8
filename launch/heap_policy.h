// How the C heap returns freed memory, for CPU work that only runs forward passes (eval, predict,
// perplexity, and the evaluation that ends `arena train`).
//
// glibc serves each large block (a batch's activations, tens of MB) with its own mmap and unmaps
// it on free, so the next batch's tensor of the same size faults its pages in again: 14 % of
// `arena eval`'s CPU time in a profile. keep_freed_memory_in_heap() makes malloc take every block
// from the heap and never shrink it: inference 1.2x faster on the 2-core CPU for about a fifth
// more peak resident memory (docs/benchmarks.md). The training steps keep glibc's defaults: there the
// same setting gained nothing and peaked 19 % higher.
#pragma once

namespace arena {

// Idempotent. Returns false (and changes nothing further) where the C library is not glibc or
// refuses the setting; the process then runs as before, only slower.
bool keep_freed_memory_in_heap();

}  // namespace arena
