#include "recipe/appliance_config.h"

#include <arpa/inet.h>

#include <algorithm>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/names.h"
#include "iso/iso.h"
#include "recipe/template_checks.h"
#include "recipe/toml_reader.h"
#include "target/target.h"

namespace romimg::recipe {

namespace {

bool is_ipv4(const std::string& s) {
    struct in_addr a;
    return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

// A string key that must be one of `allowed`.
void choice(Reader& r, const toml::table& t, const std::string& k, const std::vector<std::string>& allowed,
            std::optional<std::string>& out) {
    std::string v;
    r.str(k, v);
    if (!t.get(k)) return;
    if (std::find(allowed.begin(), allowed.end(), v) == allowed.end())
        throw r.error(t.get(k), fmt::format("{} is {}, got '{}'", k, fmt::join(allowed, " or "), v));
    out = v;
}

void optional_str(Reader& r, const toml::table& t, const std::string& k, std::optional<std::string>& out) {
    std::string v;
    r.str(k, v);
    if (t.get(k)) out = v;
}

std::filesystem::path against(const std::filesystem::path& base, const std::string& p) {
    std::filesystem::path path(p);
    return (path.is_absolute() ? path : base / path).lexically_normal();
}

// net = "dhcp", or a [net] table with address = "A.B.C.D/PREFIX", gateway, dns (optional):
// turned into the --net form "static:ADDR/PREFIX,GW[,DNS]".
std::string read_net(Reader& top, const toml::table& root, const std::filesystem::path& file) {
    const toml::node* n = root.get("net");
    if (n->is_string()) {
        std::string v;
        top.str("net", v);
        if (v != "dhcp")
            throw top.error(n, "net is \"dhcp\" or a [net] table with address, gateway and dns, got '" + v + "'");
        return v;
    }
    const toml::table* t = top.table("net");
    Reader r(*t, file, "net");
    std::string address, gateway, dns;
    r.str("address", address);
    r.str("gateway", gateway);
    r.str("dns", dns);
    r.reject_unknown();
    auto slash = address.find('/');
    int prefix = slash == std::string::npos ? 0 : atoi(address.c_str() + slash + 1);
    if (slash == std::string::npos || prefix < 1 || prefix > 32 || !is_ipv4(address.substr(0, slash)))
        throw r.error(t->get("address") ? t->get("address") : t,
                      fmt::format("net.address must be an IPv4 address with a prefix length, like 192.0.2.10/24, got '{}'",
                                  address));
    if (!is_ipv4(gateway))
        throw r.error(t->get("gateway") ? t->get("gateway") : t,
                      fmt::format("net.gateway must be an IPv4 address, got '{}'", gateway));
    if (t->get("dns") && !is_ipv4(dns))
        throw r.error(t->get("dns"), fmt::format("net.dns must be an IPv4 address, got '{}'", dns));
    return fmt::format("static:{},{}{}", address, gateway, dns.empty() ? "" : "," + dns);
}

// [[content]] service = "apache", path = "/var/www/html", source = "site/", or the CLI's
// "apache:/var/www/html=site/" strings.
std::vector<std::string> read_content(Reader& top, const std::filesystem::path& file, const std::filesystem::path& base) {
    std::vector<std::string> out;
    const toml::array* a = top.array("content");
    if (!a) return out;
    for (const auto& e : *a) {
        std::string service, path, source;
        if (const toml::table* t = e.as_table()) {
            Reader r(*t, file, "content");
            r.str("service", service);
            r.str("path", path);
            r.str("source", source);
            r.reject_unknown();
        } else if (e.is_string()) {
            const std::string& s = e.as_string()->get();
            auto colon = s.find(':'), eq = s.find('=');
            if (colon == std::string::npos || eq == std::string::npos || eq < colon)
                throw top.error(&e, fmt::format("content entries are SERVICE:PATH=SOURCE, got '{}'", s));
            service = s.substr(0, colon);
            path = s.substr(colon + 1, eq - colon - 1);
            source = s.substr(eq + 1);
        } else {
            throw top.error(&e, "content entries are { service = ..., path = ..., source = ... } or \"SERVICE:PATH=SOURCE\"");
        }
        if (!names::is_simple_name(service)) throw top.error(&e, fmt::format("content: bad service name '{}'", service));
        if (path.empty() || path[0] != '/')
            throw top.error(&e, fmt::format("content: path must be absolute inside the jail, got '{}'", path));
        if (source.empty()) throw top.error(&e, "content: source names the directory to pack");
        out.push_back(fmt::format("{}:{}={}", service, path, against(base, source).string()));
    }
    return out;
}

}  // namespace

std::string hostname_problem(const std::string& h) {
    if (h.empty() || h.size() > 64 ||
        h.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != std::string::npos ||
        h[0] == '-' || h[0] == '.')
        return fmt::format("must be 1 to 64 letters, digits, '-' and '.', got '{}'", names::printable(h));
    return "";
}

std::string log_to_problem(const std::string& s) {
    const std::string bad = fmt::format("takes udp://ADDRESS:PORT (a numeric IPv4 address or [IPv6], a port of 1-65535), "
                                        "got '{}'",
                                        names::printable(s));
    if (s.rfind("udp://", 0) != 0) return bad;
    const std::string hp = s.substr(6);
    const size_t colon = hp.rfind(':');
    if (colon == std::string::npos) return bad;
    std::string host = hp.substr(0, colon);
    const std::string port = hp.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return bad;
    const long p = std::stol(port);
    if (p < 1 || p > 65535) return bad;
    struct in6_addr a6;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']')
        return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a6) == 1 ? "" : bad;
    return is_ipv4(host) ? "" : bad;
}

ApplianceConfig parse_config(const std::string& text, const std::filesystem::path& file) {
    toml::table root = parse_toml(text, file);
    const std::filesystem::path base = std::filesystem::absolute(file).parent_path();
    ApplianceConfig c;
    c.file = file;
    Reader top(root, file, "");

    if (root.get("services")) {
        std::vector<std::string> services;
        top.strings("services", services);
        if (services.empty()) throw top.error(root.get("services"), "services must name at least one service");
        for (const auto& s : services)
            if (!names::is_simple_name(s))
                throw top.error(root.get("services"), fmt::format("services: '{}' is not a template name", s));
        c.services = services;
    }
    c.content = read_content(top, file, base);
    if (root.get("net")) c.net = read_net(top, root, file);
    optional_str(top, root, "hostname", c.hostname);
    if (c.hostname && !hostname_problem(*c.hostname).empty())
        throw top.error(root.get("hostname"), "hostname " + hostname_problem(*c.hostname));
    optional_str(top, root, "log_to", c.log_to);
    if (c.log_to && !log_to_problem(*c.log_to).empty())
        throw top.error(root.get("log_to"), "log_to " + log_to_problem(*c.log_to));
    if (root.get("log_console")) {
        bool b = false;
        top.boolean("log_console", b);
        c.log_console = b;
    }
    choice(top, root, "media", {"cd", "dvd"}, c.media);
    optional_str(top, root, "label", c.label);
    if (c.label) {
        try {
            iso::validate_label(*c.label);
        } catch (const UsageError& e) {
            throw top.error(root.get("label"), e.what());
        }
    }
    choice(top, root, "compression", {"xz", "zstd"}, c.compression);
    choice(top, root, "romlock_mode", {"enforce", "permissive"}, c.romlock_mode);
    optional_str(top, root, "arch", c.arch);
    if (c.arch) {
        try {
            target::target_named(*c.arch, "arch");
        } catch (const UsageError& e) {
            throw top.error(root.get("arch"), e.what());
        }
    }
    choice(top, root, "trace_route", {"auto", "native", "translated"}, c.trace_route);
    choice(top, root, "staging_route", {"auto", "native", "qemu-user"}, c.staging_route);
    if (const toml::table* sc = top.table("seccomp")) {
        for (const auto& [k, v] : *sc) {
            std::string service(k.str());
            if (service != "*" && !names::is_simple_name(service))
                throw top.error(&v, fmt::format("seccomp: '{}' is not a service name (or \"*\" for every service)", service));
            if (!v.is_string() || (v.as_string()->get() != "enforce" && v.as_string()->get() != "log" &&
                                   v.as_string()->get() != "off"))
                throw top.error(&v, fmt::format("seccomp.{} is \"enforce\", \"log\" or \"off\"", service));
            c.seccomp[service] = v.as_string()->get();
        }
    }
    std::string path;
    top.str("output", path);
    if (root.get("output")) c.output = against(base, path);
    path.clear();
    top.str("work", path);
    if (root.get("work")) c.work = against(base, path);
    path.clear();
    top.str("root", path);
    if (root.get("root")) c.root = against(base, path);
    for (const char* k : {"sign_key", "sign_cert"}) {
        std::string path;
        top.str(k, path);
        if (root.get(k)) (std::string(k) == "sign_key" ? c.sign_key : c.sign_cert) = against(base, path);
    }
    if (const toml::node* n = root.get("verity_fec")) {
        int v = 0;
        top.integer("verity_fec", v);
        if (v != 0 && (v < 2 || v > 24))
            throw top.error(n, "verity_fec is 0 (no error correction) or 2 to 24 parity bytes");
        c.verity_fec = (unsigned)v;
    }
    if (const toml::node* n = root.get("cache_limit")) {
        std::string v;
        top.str("cache_limit", v);
        if (std::string why = size_problem(v); !why.empty())
            throw top.error(n, fmt::format("cache_limit '{}' {} (e.g. cache_limit = \"20g\")", v, why));
        if (size_bytes(v) < (1LL << 30))
            throw top.error(n, fmt::format("cache_limit '{}' is below 1g: one build's cache entries alone take more "
                                           "(a kernel, a base layer, content); give 1g or more",
                                           v));
        c.cache_limit = (uint64_t)size_bytes(v);
    }
    if (const toml::node* n = root.get("source_date_epoch")) {
        int v = 0;
        top.integer("source_date_epoch", v);
        if (n->as_integer()->get() < 0 || n->as_integer()->get() > 4294967295)
            throw top.error(n, "source_date_epoch must be seconds since 1970, 0 to 4294967295 (squashfs stores 32-bit times)");
        c.source_date_epoch = n->as_integer()->get();
    }
    top.reject_unknown();
    return c;
}

ApplianceConfig load_config(const std::filesystem::path& file) {
    std::string text;
    try {
        text = fs::read_file(file);
    } catch (const Error& e) {
        throw Error(fmt::format("cannot read the appliance config {}: {}", file.string(), e.what()));
    }
    return parse_config(text, file);
}

std::optional<std::filesystem::path> find_config(const std::optional<std::filesystem::path>& given,
                                                 const std::filesystem::path& cwd) {
    if (given) {
        if (!std::filesystem::is_regular_file(*given))
            throw UsageError(fmt::format("-c {}: no such file (the appliance config, see romimg.toml.example)",
                                         given->string()));
        return *given;
    }
    std::filesystem::path here = cwd / kConfigFile;
    if (std::filesystem::is_regular_file(here)) return here;
    return std::nullopt;
}

}  // namespace romimg::recipe
