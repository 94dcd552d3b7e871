#include "trace/binfmt.h"

#include <cstring>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include "common/fd.h"

namespace romimg::trace {

ShebangLine parse_shebang(const std::string& head) {
    ShebangLine s;
    if (head.size() < 2 || head[0] != '#' || head[1] != '!') return s;
    std::string line = head.substr(2, head.find('\n') == std::string::npos ? std::string::npos
                                                                           : head.find('\n') - 2);
    auto ws = [](char c) { return c == ' ' || c == '\t'; };
    size_t i = 0;
    while (i < line.size() && ws(line[i])) ++i;
    size_t j = i;
    while (j < line.size() && !ws(line[j])) ++j;
    s.interpreter = line.substr(i, j - i);
    while (j < line.size() && ws(line[j])) ++j;
    // Linux passes everything after the interpreter as one argument, trailing blanks trimmed.
    size_t end = line.size();
    while (end > j && (ws(line[end - 1]) || line[end - 1] == '\r')) --end;
    s.argument = line.substr(j, end - j);
    return s;
}

std::string elf_interpreter(const std::string& path) {
    static bool initialised = elf_version(EV_CURRENT) != EV_NONE;
    if (!initialised) return "";
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return "";
    Elf* elf = elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr);
    if (!elf) return "";
    std::string interp;
    size_t n = 0;
    if (elf_kind(elf) == ELF_K_ELF && elf_getphdrnum(elf, &n) == 0) {
        for (size_t i = 0; i < n; ++i) {
            GElf_Phdr ph;
            if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_INTERP) continue;
            size_t size = 0;
            char* raw = elf_rawfile(elf, &size);
            if (raw && ph.p_offset < size && ph.p_filesz > 0 && ph.p_offset + ph.p_filesz <= size)
                interp.assign(raw + ph.p_offset, strnlen(raw + ph.p_offset, ph.p_filesz));
            break;
        }
    }
    elf_end(elf);
    return interp;
}

static int elf_machine(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return 0;
    unsigned char h[20];
    if (::pread(fd.get(), h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, ELFMAG, SELFMAG) != 0) return 0;
    if (h[EI_DATA] != ELFDATA2LSB) return 0;  // x86 only here
    return h[18] | (h[19] << 8);
}

int exec_elf_machine(const std::string& path) {
    // The last ELF file in the chain decides: the program's PT_INTERP (ld.so) has the
    // program's machine; a script's is its interpreter's.
    std::vector<std::string> chain = exec_interpreters(path);
    chain.insert(chain.begin(), path);
    for (auto it = chain.rbegin(); it != chain.rend(); ++it)
        if (int m = elf_machine(*it)) return m;
    return 0;
}

std::vector<std::string> exec_interpreters(const std::string& path) {
    std::vector<std::string> chain;
    std::string cur = path;
    // binfmt_script may nest a few levels (BINPRM_MAX_RECURSION = 4).
    for (int depth = 0; depth < 5; ++depth) {
        Fd fd(::open(cur.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd) break;
        char buf[256];
        ssize_t n = ::pread(fd.get(), buf, sizeof buf, 0);
        if (n <= 0) break;
        ShebangLine s = parse_shebang(std::string(buf, n));
        if (s.interpreter.empty()) {
            std::string interp = elf_interpreter(cur);
            if (!interp.empty()) chain.push_back(interp);
            break;
        }
        chain.push_back(s.interpreter);
        cur = s.interpreter;
    }
    return chain;
}

}  // namespace romimg::trace
