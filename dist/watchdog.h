// Hang watchdog: a collective that does not complete within dist.timeout ends the whole job.
//
// A rank that stalls (kill -STOP, a deadlocked GPU, a node that stops answering) leaves the others
// waiting in their next collective forever: MPI and NCCL have no deadline of their own. Every
// collective in dist/ runs inside a CollectiveScope; a thread started by start_watchdog() checks
// about 5 times a second whether the collective in flight has outlived the timeout, and if so
// prints which rank noticed, the training step and the operation, and ends every rank through
// abort_world() (MPI_Abort), whatever the main thread is blocked in.
#pragma once

#include <cstdint>

namespace arena {

// Starts the watchdog thread (once; later calls change the timeout). timeout_s <= 0 or a world of
// one: no watchdog.
void start_watchdog(double timeout_s);
// Stops and joins the thread (at normal exit, before MPI_Finalize).
void stop_watchdog();
// The optimizer step the trainer is in, for the message (0: before training).
void set_watchdog_step(int64_t step);

// Marks one collective in flight for its lifetime. `op` must outlive the scope (a literal).
class CollectiveScope {
 public:
  explicit CollectiveScope(const char* op);
  ~CollectiveScope();
  CollectiveScope(const CollectiveScope&) = delete;
  CollectiveScope& operator=(const CollectiveScope&) = delete;
};

}  // namespace arena
