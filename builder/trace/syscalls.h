// Which system calls the tracer stops on, and the seccomp-bpf program that says so.
//
// Three classes (the filter's SECCOMP_RET_TRACE data tells the tracer which one it is at):
//  - path:   take a path or a directory fd; stop at entry (decode, resolve) and at exit (result);
//  - creds:  change uid/gid; stop at entry and exit (re-read the process's credentials);
//  - census: everything else; one entry stop, only to learn the syscall's name.
// A small baseline that every glibc program makes at high rates (read, mmap, futex, ...) is
// never stopped on; it is reported as "syscalls_baseline" so an allow-list built from a trace
// still includes it. That keeps tracing cost near strace --seccomp-bpf (bench/trace-overhead).
#pragma once

#include <linux/filter.h>
#include <string>
#include <vector>

namespace romimg::trace {

enum TraceClass : unsigned { kCensus = 0, kPath = 1, kCreds = 2 };

const std::vector<std::string>& path_syscalls();
const std::vector<std::string>& creds_syscalls();
const std::vector<std::string>& baseline_syscalls();

// The classic BPF program for x86_64 and i386 (x32 is killed): default TRACE(kCensus); path
// and creds syscalls TRACE(kPath/kCreds); the baseline ALLOW. A name that exists on one ABI
// only (stat64, socketcall, arch_prctl) gets its rule there only. Built with libseccomp,
// loaded by the traced child with prctl(PR_SET_SECCOMP) just before it execs.
std::vector<sock_filter> build_trace_filter();

}  // namespace romimg::trace
