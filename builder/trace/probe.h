// Ready checks and HTTP(S) probes (libcurl). Parsing is pure; checking talks to the network of
// whatever namespace the calling thread is in.
#pragma once

#include <string>

#include "trace/trace_result.h"

namespace romimg::trace {

struct ReadyCheck {
    enum Kind { none, tcp, http } kind = none;
    std::string host = "127.0.0.1";
    int port = 0;
    std::string url;  // http kind
};

// "tcp:PORT", "tcp:HOST:PORT" or an http:// / https:// URL. Throws UsageError.
ReadyCheck parse_ready(const std::string& spec);

struct Probe {
    std::string method;  // GET, HEAD, POST, ...
    std::string target;  // "/path" (relative to the service's base URL) or a full URL
    int expect = 200;
};

// "GET /path 200" (method and status optional: "/path" = "GET /path 200"). Throws UsageError.
Probe parse_probe(const std::string& spec);

// Base URL ("http://127.0.0.1:8080") that relative probes use, from the ready check; "" if the
// ready check does not name a port.
std::string base_url(const ReadyCheck& ready);

// Full URL of a probe; throws UsageError for a relative probe without a base.
std::string probe_url(const Probe& p, const std::string& base);

// One attempt: true if the service accepts a connection (tcp) or answers an HTTP status below
// 500 (http: serving, not only listening; appliance::status_means_ready).
bool check_ready_once(const ReadyCheck& r);

// Performs the request (TLS certificates are not verified: probes check the service, and a
// staging host's certificate is often self-signed). Never throws for a network error: the
// result says what came back.
ProbeResult run_probe(const Probe& p, const std::string& base, int timeout_s = 20);

}  // namespace romimg::trace
