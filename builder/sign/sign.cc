#include "sign/sign.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>

#include <ctime>
#include <memory>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"

namespace romimg::sign {

namespace sfs = std::filesystem;

namespace {

template <typename T, void (*F)(T*)>
struct Free {
    void operator()(T* p) const { F(p); }
};
using Bio = std::unique_ptr<BIO, Free<BIO, BIO_free_all>>;
using Key = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Free<X509, X509_free>>;
using P7 = std::unique_ptr<PKCS7, Free<PKCS7, PKCS7_free>>;

std::string openssl_error() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (!e) return "";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

std::string read_readable(const sfs::path& p, const std::string& flag) {
    if (!sfs::is_regular_file(p)) throw UsageError(fmt::format("{} {}: no such file", flag, p.string()));
    try {
        return fs::read_file(p);
    } catch (const std::exception& e) {
        throw UsageError(fmt::format("{} {}: cannot be read ({})", flag, p.string(), e.what()));
    }
}

int refuse_password(char*, int, int, void* asked) {
    *static_cast<bool*>(asked) = true;
    return -1;
}

Cert parse_cert(const std::string& bytes, const sfs::path& path) {
    Bio bio(BIO_new_mem_buf(bytes.data(), (int)bytes.size()));
    Cert c(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!c) {
        ERR_clear_error();
        const unsigned char* p = reinterpret_cast<const unsigned char*>(bytes.data());
        c.reset(d2i_X509(nullptr, &p, (long)bytes.size()));
    }
    if (!c)
        throw UsageError(fmt::format("--sign-cert {}: not an X.509 certificate in PEM or DER ({}); make one with "
                                     "`openssl req -new -x509 -newkey rsa:2048 -nodes -keyout KEY.pem -out CERT.pem`",
                                     path.string(), openssl_error()));
    return c;
}

std::string subject_of(X509* c) {
    char* s = X509_NAME_oneline(X509_get_subject_name(c), nullptr, 0);
    std::string out = s ? s : "?";
    OPENSSL_free(s);
    return out;
}

std::vector<uint8_t> der_of(X509* c) {
    int n = i2d_X509(c, nullptr);
    std::vector<uint8_t> der(n > 0 ? n : 0);
    unsigned char* p = der.data();
    i2d_X509(c, &p);
    return der;
}

}  // namespace

std::vector<uint8_t> load_certificate(const sfs::path& cert, std::string* subject) {
    Cert c = parse_cert(read_readable(cert, "--sign-cert"), cert);
    if (subject) *subject = subject_of(c.get());
    return der_of(c.get());
}

Signer load_signer(const sfs::path& key, const sfs::path& cert) {
    Signer s;
    s.key = sfs::absolute(key);
    s.cert = sfs::absolute(cert);
    const std::string key_pem = read_readable(key, "--sign-key");
    const std::string cert_bytes = read_readable(cert, "--sign-cert");
    bool asked = false;
    Bio kbio(BIO_new_mem_buf(key_pem.data(), (int)key_pem.size()));
    Key k(PEM_read_bio_PrivateKey(kbio.get(), nullptr, refuse_password, &asked));
    if (asked)
        throw UsageError(fmt::format("--sign-key {}: the key is protected by a password, and romimg has no way to ask "
                                     "for it; give it an unencrypted copy on a protected disk (`openssl pkey -in {} "
                                     "-out KEY.pem`)",
                                     key.string(), key.string()));
    if (!k)
        throw UsageError(fmt::format("--sign-key {}: not a PEM private key ({})", key.string(), openssl_error()));
    if (EVP_PKEY_base_id(k.get()) != EVP_PKEY_RSA)
        throw UsageError(fmt::format("--sign-key {}: not an RSA key; UEFI firmware checks RSA signatures only "
                                     "(make one with `openssl req -new -x509 -newkey rsa:2048 ...`)",
                                     key.string()));
    Cert c = parse_cert(cert_bytes, cert);
    if (X509_check_private_key(c.get(), k.get()) != 1) {
        ERR_clear_error();
        throw UsageError(fmt::format("--sign-key {} and --sign-cert {} do not match: the certificate is for another key",
                                     key.string(), cert.string()));
    }
    s.subject = subject_of(c.get());
    s.cert_der = der_of(c.get());
    s.fingerprint = fs::sha256_hex(std::string(s.cert_der.begin(), s.cert_der.end()));
    time_t now = time(nullptr);
    if (X509_cmp_time(X509_get0_notAfter(c.get()), &now) < 0)
        log::warn("--sign-cert {} has expired; UEFI firmware does not check dates, so images signed with it still "
                  "boot, but renew it",
                  cert.string());
    if (X509_cmp_time(X509_get0_notBefore(c.get()), &now) > 0)
        log::warn("--sign-cert {} is not valid yet (its notBefore is in the future)", cert.string());
    return s;
}

std::string pkcs7_sign(const Signer& s, const std::string& data) {
    const std::string key_pem = fs::read_file(s.key);
    Bio kbio(BIO_new_mem_buf(key_pem.data(), (int)key_pem.size()));
    bool asked = false;
    Key k(PEM_read_bio_PrivateKey(kbio.get(), nullptr, refuse_password, &asked));
    const unsigned char* p = s.cert_der.data();
    Cert c(d2i_X509(nullptr, &p, (long)s.cert_der.size()));
    if (!k || !c) throw Error("internal: the signing key or certificate no longer parses: " + openssl_error());
    Bio in(BIO_new_mem_buf(data.data(), (int)data.size()));
    P7 p7(PKCS7_sign(c.get(), k.get(), nullptr, in.get(), PKCS7_BINARY | PKCS7_DETACHED | PKCS7_NOATTR | PKCS7_NOCERTS));
    if (!p7) throw Error("PKCS#7 signing failed: " + openssl_error());
    int n = i2d_PKCS7(p7.get(), nullptr);
    std::string der(n > 0 ? n : 0, '\0');
    unsigned char* out = reinterpret_cast<unsigned char*>(der.data());
    i2d_PKCS7(p7.get(), &out);
    return der;
}

Command uki_command(const sfs::path& stub, const sfs::path& osrel, const sfs::path& cmdline, const sfs::path& kernel,
                    uint64_t kernel_bytes, const sfs::path& initrd, const sfs::path& out) {
    const uint64_t linux_at = 0x2000000;
    const uint64_t initrd_at = (linux_at + kernel_bytes + 0xfffff) / 0x100000 * 0x100000;
    Command c;
    c.argv = {"objcopy",
              "-p",
              "--add-section",
              ".osrel=" + osrel.string(),
              "--change-section-vma",
              ".osrel=0x20000",
              "--add-section",
              ".cmdline=" + cmdline.string(),
              "--change-section-vma",
              ".cmdline=0x30000",
              "--add-section",
              ".linux=" + kernel.string(),
              "--change-section-vma",
              fmt::format(".linux={:#x}", linux_at),
              "--add-section",
              ".initrd=" + initrd.string(),
              "--change-section-vma",
              fmt::format(".initrd={:#x}", initrd_at),
              stub.string(),
              out.string()};
    return c;
}

Command sbsign_command(const Signer& s, const sfs::path& in, const sfs::path& out) {
    Command c;
    c.argv = {"sbsign", "--key", s.key.string(), "--cert", s.cert.string(), "--output", out.string(), in.string()};
    return c;
}

bool make_signed_uki(const Signer& s, const sfs::path& kernel, const sfs::path& initrd, const std::string& cmdline,
                     const sfs::path& dir, const sfs::path& out, const sfs::path& log) {
    if (!sfs::is_regular_file(kUkiStub))
        throw Error(fmt::format("{} not found; install systemd-boot-efi (`make deps`)", kUkiStub));
    sfs::create_directories(dir);
    fs::write_file_atomic(dir / "os-release", "NAME=romimg\nID=romimg\nPRETTY_NAME=\"romimg appliance\"\n");
    fs::write_file_atomic(dir / "cmdline", cmdline);
    Command uki = uki_command(kUkiStub, dir / "os-release", dir / "cmdline", kernel, sfs::file_size(kernel), initrd,
                              dir / "uki.efi");
    uki.log = log;
    run(uki);
    // The same unsigned image and certificate as last time in this work dir: keep the signed one
    // (sbsign stamps the time, so signing again would change its bytes for nothing).
    const std::string stamp = fs::sha256_file(dir / "uki.efi") + "\n" + s.fingerprint + "\n";
    if (sfs::is_regular_file(out) && sfs::is_regular_file(dir / "signed.stamp") && fs::read_file(dir / "signed.stamp") == stamp)
        return false;
    sfs::remove(dir / "signed.stamp");
    Command signer = sbsign_command(s, dir / "uki.efi", dir / "uki.signed.efi");
    signer.log = log;
    run(signer);
    sfs::rename(dir / "uki.signed.efi", out);
    fs::write_file_atomic(dir / "signed.stamp", stamp);
    return true;
}

}  // namespace romimg::sign
