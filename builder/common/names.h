// Names and strings that come from outside (an ISO someone else made, a template, a config
// file): checked before they are used as paths, and escaped before they are printed. Pure;
// knows nothing of romimg.
#pragma once

#include <string>

namespace romimg::names {

// True if `s` holds a C0 control character or DEL (a newline, an escape sequence...).
bool has_control(const std::string& s);

// 1 to 64 characters of [a-z0-9_-]: a name safe in a path, a regex, a config line and a user
// name (romimg's service names).
bool is_simple_name(const std::string& s);

// "" when `p` is a relative path of plain names: not empty, not absolute, no empty, "." or ".."
// component, no control character. Otherwise what is wrong with it, for an error message.
std::string relative_path_problem(const std::string& p);

// "" when `p` is an absolute, normalized path ("/a/b": no "//", ".", "..", trailing "/") with
// no whitespace or control character. Otherwise what is wrong with it.
std::string absolute_path_problem(const std::string& p);

// `s` with every control character, DEL and backslash written as an escape ("\n" → "\x0a",
// "\" → "\\"), so that printing it cannot move the cursor, forge lines or hide text.
std::string printable(const std::string& s);
// The same for a text of lines (an error message): newlines and tabs are kept.
std::string printable_text(const std::string& s);

}  // namespace romimg::names
