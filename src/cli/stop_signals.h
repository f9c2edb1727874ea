// StopSignals: SIGINT and SIGTERM for a long-running command (`shardlake
// server`, `shardlake worker`), taken by a thread of its own so that they never
// interrupt gRPC's or DuckDB's threads.
//
// Construct it first, before any other thread starts: it blocks both signals
// in the calling thread, and threads started afterwards inherit the mask.
// OnSignal(action) then starts the waiting thread, which runs `action` once if
// either signal arrives. Finish() (which the destructor calls too) wakes that
// thread if no signal came and joins it; call it once the command's work is
// done and before anything `action` uses is destroyed. The signals stay
// blocked (the process is about to exit).
//
// Thread-safety: one thread uses the object; `action` runs on the waiting
// thread and must be safe to call concurrently with the command's own work.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>
#include <utility>

namespace shardlake::cli {

class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  ~StopSignals() { Finish(); }

  // Starts the waiting thread (once); `who` names the command in the message
  // printed when a signal arrives, e.g. "shardlake server".
  void OnSignal(std::string who, std::function<void()> action) {
    waiter_ = std::thread([this, who = std::move(who), action = std::move(action)] {
      int signal = 0;
      sigwait(&signals_, &signal);
      if (finished_) return;  // woken by Finish(), not by a user
      std::fprintf(stderr, "%s: signal %d, stopping\n", who.c_str(), signal);
      action();
    });
  }

  // Wakes the waiting thread if no signal came, and joins it (after `action`
  // has returned, if a signal came). Does nothing the second time.
  void Finish() {
    if (!waiter_.joinable()) return;
    finished_ = true;
    pthread_kill(waiter_.native_handle(), SIGTERM);  // ends the sigwait if no signal came
    waiter_.join();
  }

 private:
  sigset_t signals_;
  std::atomic<bool> finished_{false};
  std::thread waiter_;
};

}  // namespace shardlake::cli
