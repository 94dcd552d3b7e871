// What ld.so reads from an ELF object and from /etc/ld.so.cache, for the closure: PT_INTERP,
// DT_NEEDED, DT_RPATH/DT_RUNPATH, DT_SONAME, DF_1_NODEFLIB. Reads files only.
#include <cstring>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "closure/closure.h"
#include "common/strings.h"
#include "common/fd.h"
#include "common/sys.h"

namespace romimg::closure::elf {

namespace {

struct ElfGuard {
    Elf* e;
    ~ElfGuard() {
        if (e) elf_end(e);
    }
};

// Empty entries are kept: in DT_RPATH/DT_RUNPATH they mean the current directory.
std::vector<std::string> split_colon(const std::string& s) { return split(s, ':'); }

}  // namespace

Info read_info(const std::string& path) {
    static const bool initialised = elf_version(EV_CURRENT) != EV_NONE;
    Info info;
    if (!initialised) return info;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd) return info;
    // Most traced files are text: look at the magic before handing the file to libelf.
    unsigned char magic[SELFMAG];
    if (::pread(fd.get(), magic, SELFMAG, 0) != SELFMAG || memcmp(magic, ELFMAG, SELFMAG) != 0)
        return info;
    ElfGuard g{elf_begin(fd.get(), ELF_C_READ_MMAP, nullptr)};
    if (!g.e || elf_kind(g.e) != ELF_K_ELF) return info;
    GElf_Ehdr eh;
    if (!gelf_getehdr(g.e, &eh)) return info;
    info.is_elf = true;
    info.elf_class = gelf_getclass(g.e);
    info.machine = eh.e_machine;

    size_t raw_size = 0;
    const char* raw = elf_rawfile(g.e, &raw_size);
    size_t nph = 0;
    if (!raw || elf_getphdrnum(g.e, &nph) != 0) return info;
    std::vector<GElf_Phdr> loads;
    GElf_Phdr dyn{};
    bool have_dyn = false;
    for (size_t i = 0; i < nph; ++i) {
        GElf_Phdr ph;
        if (!gelf_getphdr(g.e, (int)i, &ph)) continue;
        if (ph.p_type == PT_LOAD) loads.push_back(ph);
        if (ph.p_type == PT_DYNAMIC) dyn = ph, have_dyn = true;
        if (ph.p_type == PT_INTERP && ph.p_offset < raw_size && ph.p_filesz > 0 &&
            ph.p_offset + ph.p_filesz <= raw_size)
            info.interp.assign(raw + ph.p_offset, strnlen(raw + ph.p_offset, ph.p_filesz));
    }
    if (!have_dyn || dyn.p_offset >= raw_size || dyn.p_filesz == 0) return info;

    // The dynamic segment, not the section table: ld.so never reads sections, and stripped
    // objects may have none. DT_STRTAB is a virtual address, mapped back through PT_LOAD.
    Elf_Data* data = elf_getdata_rawchunk(g.e, dyn.p_offset,
                                          std::min<uint64_t>(dyn.p_filesz, raw_size - dyn.p_offset),
                                          ELF_T_DYN);
    if (!data) return info;
    size_t entsize = gelf_fsize(g.e, ELF_T_DYN, 1, EV_CURRENT);
    size_t count = entsize ? data->d_size / entsize : 0;
    uint64_t strtab_addr = 0, strsz = 0;
    std::vector<std::pair<int64_t, uint64_t>> strs;  // (tag, string offset)
    for (size_t i = 0; i < count; ++i) {
        GElf_Dyn d;
        if (!gelf_getdyn(data, (int)i, &d) || d.d_tag == DT_NULL) break;
        switch (d.d_tag) {
        case DT_STRTAB: strtab_addr = d.d_un.d_ptr; break;
        case DT_STRSZ: strsz = d.d_un.d_val; break;
        case DT_NEEDED:
        case DT_SONAME:
        case DT_RPATH:
        case DT_RUNPATH: strs.emplace_back(d.d_tag, d.d_un.d_val); break;
        case DT_FLAGS_1:
            if (d.d_un.d_val & DF_1_NODEFLIB) info.nodeflib = true;
            break;
        default: break;
        }
    }
    uint64_t strtab_off = 0;
    bool mapped = false;
    for (const auto& ph : loads) {
        if (strtab_addr >= ph.p_vaddr && strtab_addr < ph.p_vaddr + ph.p_filesz) {
            strtab_off = strtab_addr - ph.p_vaddr + ph.p_offset;
            mapped = true;
            break;
        }
    }
    if (!mapped || strtab_off >= raw_size) return info;
    uint64_t limit = std::min<uint64_t>(raw_size, strsz ? strtab_off + strsz : raw_size);
    auto str = [&](uint64_t off) -> std::string {
        if (strtab_off + off >= limit) return "";
        const char* p = raw + strtab_off + off;
        return std::string(p, strnlen(p, limit - strtab_off - off));
    };
    for (auto [tag, off] : strs) {
        std::string s = str(off);
        if (tag == DT_NEEDED) info.needed.push_back(s);
        else if (tag == DT_SONAME) info.soname = s;
        else if (tag == DT_RPATH) info.rpath = split_colon(s);
        else info.runpath = split_colon(s);
    }
    // ld.so ignores DT_RPATH when the object also has DT_RUNPATH.
    if (!info.runpath.empty()) info.rpath.clear();
    return info;
}

// The cache format (glibc ≥ 2.32 writes only the "new" one, possibly after an old-format
// prefix): a 48-byte header "glibc-ld.so.cache1.1", nlibs, len_strings, flags,
// extension_offset; then nlibs 24-byte entries {int32 flags; uint32 key, value; uint32
// osversion; uint64 hwcap}, whose key/value are offsets from the start of that header.
LdCache LdCache::load(const std::string& file) {
    LdCache c;
    if (file.empty()) return c;
    std::string buf;
    try {
        Fd fd = sys::open(file, O_RDONLY);
        buf = sys::read_all(fd.get());
    } catch (const std::exception&) {
        return c;  // no cache: ld.so then searches only the default directories, and so do we
    }
    static const char kOld[] = "ld.so-1.7.0";
    static const char kNew[] = "glibc-ld.so.cache1.1";
    size_t base = 0;
    if (buf.compare(0, sizeof kOld - 1, kOld) == 0) {
        if (buf.size() < 16) return c;
        uint32_t nold;
        memcpy(&nold, buf.data() + 12, 4);
        base = 16 + size_t(nold) * 12;
        base = (base + 7) & ~size_t(7);  // the new header is aligned after the old entries
    }
    if (buf.size() < base + 48 || buf.compare(base, sizeof kNew - 1, kNew) != 0) return c;
    uint32_t nlibs;
    memcpy(&nlibs, buf.data() + base + 20, 4);
    const size_t entries = base + 48;
    if (buf.size() < entries + size_t(nlibs) * 24) return c;
    auto str = [&](uint32_t off) -> std::string {
        size_t at = base + off;
        if (at >= buf.size()) return "";
        return std::string(buf.data() + at, strnlen(buf.data() + at, buf.size() - at));
    };
    std::map<std::string, std::vector<std::string>> hwcaps;  // tried after the baseline ones
    for (uint32_t i = 0; i < nlibs; ++i) {
        const char* e = buf.data() + entries + size_t(i) * 24;
        int32_t flags;
        uint32_t key, value;
        uint64_t hwcap;
        memcpy(&flags, e, 4);
        memcpy(&key, e + 4, 4);
        memcpy(&value, e + 8, 4);
        memcpy(&hwcap, e + 16, 8);
        std::string name = str(key), path = str(value);
        if (name.empty() || path.empty()) continue;
        (hwcap ? hwcaps : c.by_name_)[name].push_back(path);
        ++c.size_;
    }
    for (auto& [name, paths] : hwcaps) {
        auto& v = c.by_name_[name];
        v.insert(v.end(), paths.begin(), paths.end());
    }
    return c;
}

std::vector<std::string> LdCache::candidates(const std::string& soname) const {
    auto it = by_name_.find(soname);
    return it == by_name_.end() ? std::vector<std::string>{} : it->second;
}

}  // namespace romimg::closure::elf
