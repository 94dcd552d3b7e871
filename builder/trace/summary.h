// The short human summary of a TraceResult that `romimg trace` prints. Pure.
#pragma once

#include <string>

#include "trace/trace_result.h"

namespace romimg::trace {

std::string summarize(const std::string& name, const TraceResult& r);

}  // namespace romimg::trace
