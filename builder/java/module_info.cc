#include "java/module_info.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>

#include <fmt/format.h>

#include "common/error.h"

namespace romimg::java {

namespace {

// Big-endian reads over the class file, every one bounds-checked.
struct Reader {
    const std::string& b;
    const std::string& what;
    size_t at = 0;
    void need(size_t n) const {
        if (n > b.size() || at > b.size() - n)
            throw Error(fmt::format("{}: module-info.class is truncated (a class file of {} bytes)", what, b.size()));
    }
    unsigned u1() {
        need(1);
        return (unsigned char)b[at++];
    }
    unsigned u2() {
        unsigned hi = u1();
        return hi << 8 | u1();
    }
    uint32_t u4() {
        uint32_t hi = u2();
        return hi << 16 | u2();
    }
    void skip(size_t n) {
        need(n);
        at += n;
    }
};

constexpr unsigned kUtf8 = 1, kModule = 19;

// libarchive's message, which may be null.
std::string archive_error(struct archive* a) {
    const char* e = archive_error_string(a);
    return e ? e : "unreadable";
}
constexpr unsigned kAccTransitive = 0x0020, kAccStaticPhase = 0x0040;

}  // namespace

ModuleDecl parse_module_info(const std::string& bytes, const std::string& what) {
    Reader r{bytes, what};
    if (r.u4() != 0xCAFEBABE) throw Error(fmt::format("{}: module-info.class is not a Java class file", what));
    r.skip(4);  // minor, major version
    const unsigned count = r.u2();
    // Index → (tag, utf8 text or the utf8 index a Module entry names).
    std::vector<unsigned> tags(count, 0), refs(count, 0);
    std::vector<std::string> texts(count);
    for (unsigned i = 1; i < count; ++i) {
        const unsigned tag = tags[i] = r.u1();
        switch (tag) {
        case kUtf8: {
            unsigned len = r.u2();
            r.need(len);
            texts[i] = bytes.substr(r.at, len);
            r.at += len;
            break;
        }
        case 7: case 8: case 16: case kModule: case 20:  // class, string, method type, module, package
            refs[i] = r.u2();
            break;
        case 15:  // method handle
            r.skip(3);
            break;
        case 3: case 4: case 9: case 10: case 11: case 12: case 17: case 18:
            r.skip(4);
            break;
        case 5: case 6:  // long, double: two slots
            r.skip(8);
            ++i;
            break;
        default:
            throw Error(fmt::format("{}: module-info.class has an unknown constant-pool tag {}", what, tag));
        }
    }
    auto utf8 = [&](unsigned i) -> const std::string& {
        if (i == 0 || i >= count || tags[i] != kUtf8)
            throw Error(fmt::format("{}: module-info.class refers to constant {} which is not text", what, i));
        return texts[i];
    };
    auto module_name = [&](unsigned i) -> const std::string& {
        if (i == 0 || i >= count || tags[i] != kModule)
            throw Error(fmt::format("{}: module-info.class refers to constant {} which is not a module", what, i));
        return utf8(refs[i]);
    };
    r.skip(6);  // access flags, this_class, super_class
    r.skip(size_t(r.u2()) * 2);  // interfaces
    for (int members = 0; members < 2; ++members) {  // fields, methods: none in a module-info, but skip any
        unsigned n = r.u2();
        for (unsigned k = 0; k < n; ++k) {
            r.skip(6);
            unsigned attrs = r.u2();
            for (unsigned a = 0; a < attrs; ++a) {
                r.skip(2);
                r.skip(r.u4());
            }
        }
    }
    const unsigned attrs = r.u2();
    for (unsigned a = 0; a < attrs; ++a) {
        const std::string& name = utf8(r.u2());
        const uint32_t len = r.u4();
        if (name != "Module") {
            r.skip(len);
            continue;
        }
        r.need(len);
        ModuleDecl d;
        d.name = module_name(r.u2());
        r.skip(4);  // module flags, version
        const unsigned n = r.u2();
        for (unsigned k = 0; k < n; ++k) {
            ModuleRequire req;
            req.name = module_name(r.u2());
            const unsigned flags = r.u2();
            req.transitive = flags & kAccTransitive;
            req.is_static = flags & kAccStaticPhase;
            r.skip(2);  // version
            d.requires_.push_back(req);
        }
        return d;
    }
    throw Error(fmt::format("{}: module-info.class has no Module attribute", what));
}

std::optional<ModuleDecl> jar_module(const std::string& jar_path, int feature) {
    std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(), archive_read_free);
    archive_read_support_format_zip(a.get());
    if (archive_read_open_filename(a.get(), jar_path.c_str(), 65536) != ARCHIVE_OK)
        throw Error(fmt::format("{} is not a readable jar: {}", jar_path, archive_error(a.get())));
    std::string root, versioned;
    int best = -1;
    struct archive_entry* e;
    for (;;) {
        int rc = archive_read_next_header(a.get(), &e);
        if (rc == ARCHIVE_EOF) break;
        if (rc < ARCHIVE_WARN)
            throw Error(fmt::format("{} is not a readable jar: {}", jar_path, archive_error(a.get())));
        const char* pathname = archive_entry_pathname(e);
        if (!pathname) continue;  // an entry whose name does not convert: not a module-info
        std::string name = pathname;
        int version = -1;
        if (name == "module-info.class") {
            version = 0;
        } else if (name.rfind("META-INF/versions/", 0) == 0 && name.size() > 36 &&
                   name.compare(name.size() - 18, 18, "/module-info.class") == 0) {
            std::string n = name.substr(18, name.size() - 18 - 18);
            if (n.empty() || n.size() > 4 || n.find_first_not_of("0123456789") != std::string::npos) continue;
            version = std::stoi(n);
            if (version > feature || version <= best) continue;
        } else {
            continue;
        }
        std::string bytes;
        char buf[65536];
        la_ssize_t got;
        while ((got = archive_read_data(a.get(), buf, sizeof buf)) > 0) {
            bytes.append(buf, got);
            if (bytes.size() > (16u << 20)) throw Error(fmt::format("{}: {} is over 16 MB", jar_path, name));
        }
        if (got < 0) throw Error(fmt::format("{}: cannot read {}: {}", jar_path, name, archive_error(a.get())));
        if (version == 0) root = std::move(bytes);
        else versioned = std::move(bytes), best = version;
    }
    if (!root.empty()) return parse_module_info(root, jar_path);
    if (!versioned.empty()) return parse_module_info(versioned, jar_path + " (META-INF/versions/" + std::to_string(best) + ")");
    return std::nullopt;
}

}  // namespace romimg::java
