// What the kernel loads for an exec without any syscall the tracer could see: the shebang
// interpreter (and, recursively, its own interpreter) and the ELF program interpreter (PT_INTERP).
#pragma once

#include <string>
#include <vector>

namespace romimg::trace {

struct ShebangLine {
    std::string interpreter;  // "" if the file does not start with "#!"
    std::string argument;     // the optional single argument ("" if none)
};

// Parses the first line of a script the way Linux's binfmt_script does. Pure.
ShebangLine parse_shebang(const std::string& head);

// PT_INTERP of an ELF file ("" if none, or not ELF). Uses libelf.
std::string elf_interpreter(const std::string& path);

// The chain the kernel follows for execve(path): shebang interpreters (nested up to the
// kernel's limit) and the PT_INTERP of the final ELF, in order. Paths are as written in the
// files (the caller resolves them).
std::vector<std::string> exec_interpreters(const std::string& path);

// e_machine (EM_386, EM_X86_64, ...) of the ELF file execve(path) finally runs: the file
// itself, or the last interpreter of its shebang chain. 0 if that is not an ELF file.
int exec_elf_machine(const std::string& path);

}  // namespace romimg::trace
