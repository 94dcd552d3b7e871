// Signed boot's pure parts and its checks of the user's key and certificate (keys made with the
// openssl command line in a temporary directory), the PKCS#7 the kernel checks, and the OVMF
// variable store with a certificate enrolled.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include "common/command.h"
#include "common/error.h"
#include "common/fs.h"
#include "firmware/ovmf_vars.h"
#include "sign/sign.h"

using namespace romimg;
namespace sfs = std::filesystem;

namespace {

struct Keys {
    fs::TempDir tmp{fs::temp_parent(), "romimg-sign-test-"};
    bool ok = true;
    sfs::path p(const std::string& name) const { return tmp.path() / name; }
    void sh(const std::string& cmd) {
        if (ok && std::system(("cd " + tmp.path().string() + " && " + cmd + " >/dev/null 2>&1").c_str()) != 0) ok = false;
    }
    Keys() {
        if (find_program("openssl").empty()) {
            ok = false;
            return;
        }
        for (const char* k : {"a", "b"})
            sh(std::string("openssl req -new -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=romimg-test-") + k +
               " -keyout " + k + ".key -out " + k + ".pem");
        sh("openssl pkey -in a.key -aes256 -passout pass:secret -out a-locked.key");
        sh("openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=ec "
           "-keyout ec.key -out ec.pem");
        sh("openssl x509 -in a.pem -outform der -out a.der");
    }
};

template <typename F>
std::string error_of(F f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("sign: the key and certificate are checked before any work, each problem named with its fix", "[sign]") {
    Keys k;
    if (!k.ok) {
        WARN("openssl could not make test keys: skipped");
        return;
    }
    const sign::Signer s = sign::load_signer(k.p("a.key"), k.p("a.pem"));
    CHECK(s.subject == "/CN=romimg-test-a");
    CHECK(s.fingerprint.size() == 64);
    CHECK(sign::load_signer(k.p("a.key"), k.p("a.der")).fingerprint == s.fingerprint);  // DER works too
    CHECK_THAT(error_of([&] { sign::load_signer(k.p("missing.key"), k.p("a.pem")); }),
               Catch::Contains("--sign-key") && Catch::Contains("no such file"));
    CHECK_THAT(error_of([&] { sign::load_signer(k.p("a-locked.key"), k.p("a.pem")); }),
               Catch::Contains("protected by a password") && Catch::Contains("openssl pkey"));
    CHECK_THAT(error_of([&] { sign::load_signer(k.p("a.key"), k.p("b.pem")); }), Catch::Contains("do not match"));
    CHECK_THAT(error_of([&] { sign::load_signer(k.p("ec.key"), k.p("ec.pem")); }), Catch::Contains("not an RSA key"));
    CHECK_THAT(error_of([&] { sign::load_signer(k.p("a.pem"), k.p("a.pem")); }), Catch::Contains("not a PEM private key"));
    CHECK_THAT(error_of([&] { sign::load_signer(k.p("a.key"), k.p("a.key")); }), Catch::Contains("not an X.509 certificate"));
}

TEST_CASE("sign: a root hash's PKCS#7 is deterministic, detached, and verifies with the certificate", "[sign]") {
    Keys k;
    if (!k.ok) {
        WARN("openssl could not make test keys: skipped");
        return;
    }
    const sign::Signer s = sign::load_signer(k.p("a.key"), k.p("a.pem"));
    const std::string hash(64, 'a');
    const std::string p7 = sign::pkcs7_sign(s, hash);
    CHECK(p7 == sign::pkcs7_sign(s, hash));  // no signing time: a signed build is reproducible too
    CHECK(p7 != sign::pkcs7_sign(s, std::string(64, 'b')));
    fs::write_file_atomic(k.p("hash"), hash);
    fs::write_file_atomic(k.p("hash.p7s"), p7);
    k.sh("openssl smime -verify -binary -inform der -in hash.p7s -content hash -certfile a.pem -nointern -noverify");
    CHECK(k.ok);
    k.sh("openssl smime -verify -binary -inform der -in hash.p7s -content hash -certfile b.pem -nointern -noverify");
    CHECK_FALSE(k.ok);  // another certificate does not verify it
}

TEST_CASE("sign: the UKI puts .initrd after the kernel and keeps the stub's timestamp", "[sign]") {
    const Command c = sign::uki_command("/stub", "/o", "/c", "/k", 0x900000 + 1, "/i", "/out.efi");
    CHECK(c.argv[0] == "objcopy");
    CHECK(c.argv[1] == "-p");
    auto has = [&](const std::string& a) { return std::find(c.argv.begin(), c.argv.end(), a) != c.argv.end(); };
    CHECK(has(".linux=0x2000000"));
    CHECK(has(".initrd=0x2a00000"));  // 32 MiB + 9 MiB + 1 byte, rounded up to the next MiB
    CHECK(has(".cmdline=/c"));
    CHECK(c.argv.back() == "/out.efi");
}

TEST_CASE("firmware: a certificate is enrolled into OVMF's variable store, deterministically, once", "[sign]") {
    const sfs::path tmpl = "/usr/share/OVMF/OVMF_VARS_4M.fd";
    Keys k;
    if (!k.ok || !sfs::exists(tmpl)) {
        WARN("no openssl or no ovmf: skipped");
        return;
    }
    const std::vector<uint8_t> der = sign::load_certificate(k.p("a.pem"));
    firmware::write_secure_boot_vars(tmpl, der, k.p("vars1.fd"));
    firmware::write_secure_boot_vars(tmpl, der, k.p("vars2.fd"));
    const std::string a = fs::read_file(k.p("vars1.fd")), t = fs::read_file(tmpl);
    CHECK(a == fs::read_file(k.p("vars2.fd")));
    CHECK(a.size() == t.size());
    CHECK(a.find(std::string(der.begin(), der.end())) != std::string::npos);
    // Already enrolled: refused, and so is anything that is not a variable store.
    CHECK_THAT(error_of([&] { firmware::write_secure_boot_vars(k.p("vars1.fd"), der, k.p("vars3.fd")); }),
               Catch::Contains("already exists"));
    CHECK_THAT(error_of([&] { firmware::write_secure_boot_vars(k.p("a.pem"), der, k.p("vars3.fd")); }),
               Catch::Contains("a.pem"));
    CHECK_FALSE(sfs::exists(k.p("vars3.fd")));
}
