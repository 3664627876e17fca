#include "common/crypto.hpp"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <memory>

namespace fleetdesk::crypto {
namespace {

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};
using Bio = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using Req = std::unique_ptr<X509_REQ, Deleter<X509_REQ_free>>;
using Extension = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;
using BigNum = std::unique_ptr<BIGNUM, Deleter<BN_free>>;

Error OpenSslError(const std::string& what) {
  std::string message = what;
  if (unsigned long code = ERR_get_error(); code != 0) {
    std::array<char, 256> buffer{};
    ERR_error_string_n(code, buffer.data(), buffer.size());
    message += ": ";
    message += buffer.data();
  }
  ERR_clear_error();
  return MakeError(ErrorCode::kInvalidArgument, message);
}

Bio MemoryBio(const std::string& text) {
  return Bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  return {data, static_cast<std::size_t>(size)};
}

Result<PKey> ReadKey(const std::string& pem) {
  auto bio = MemoryBio(pem);
  PKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return OpenSslError("cannot read private key");
  return key;
}

Result<X509Ptr> ReadCertificate(const std::string& pem) {
  auto bio = MemoryBio(pem);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return OpenSslError("cannot read certificate");
  return cert;
}

Result<std::string> CertificatePem(X509* cert) {
  Bio out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_X509(out.get(), cert) != 1) return OpenSslError("cannot write certificate");
  return BioString(out.get());
}

Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Extension ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError("cannot add extension " + value);
  }
  return {};
}

bool LooksLikeIpAddress(const std::string& name) {
  return name.find(':') != std::string::npos ||
         name.find_first_not_of("0123456789.") == std::string::npos;
}

// A fresh certificate with a random 128-bit serial, valid from one hour ago (clock skew).
Result<X509Ptr> NewCertificate(const std::string& common_name, std::chrono::seconds validity) {
  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  std::array<unsigned char, 16> serial_bytes{};
  RAND_bytes(serial_bytes.data(), serial_bytes.size());
  serial_bytes[0] &= 0x7FU;  // positive, as RFC 5280 requires
  BigNum serial(BN_bin2bn(serial_bytes.data(), serial_bytes.size(), nullptr));
  BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), validity.count());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  return cert;
}

std::int64_t UnixTime(const ASN1_TIME* time) {
  struct tm parts {};
  ASN1_TIME_to_tm(time, &parts);
  return timegm(&parts);
}

std::string SerialHex(X509* cert) {
  BigNum serial(ASN1_INTEGER_to_BN(X509_get_serialNumber(cert), nullptr));
  char* hex = BN_bn2hex(serial.get());
  std::string out = hex;
  OPENSSL_free(hex);
  return out;
}

}  // namespace

Result<std::string> GenerateKey() {
  PKey key(EVP_EC_gen("P-256"));
  if (!key) return OpenSslError("cannot generate an EC P-256 key");
  Bio out(BIO_new(BIO_s_mem()));
  if (PEM_write_bio_PrivateKey(out.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("cannot write private key");
  }
  return BioString(out.get());
}

Result<std::string> MakeCsr(const std::string& key_pem, const std::string& common_name) {
  auto key = ReadKey(key_pem);
  if (!key) return key.error();
  Req req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_REQ_set_pubkey(req.get(), key->get());
  if (X509_REQ_sign(req.get(), key->get(), EVP_sha256()) <= 0) {
    return OpenSslError("cannot sign certificate request");
  }
  Bio out(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(out.get(), req.get());
  return BioString(out.get());
}

Result<KeyAndCertificate> MakeCertificateAuthority(const std::string& common_name,
                                                   std::chrono::hours validity) {
  auto key_pem = GenerateKey();
  if (!key_pem) return key_pem.error();
  auto key = ReadKey(*key_pem);
  if (!key) return key.error();
  auto cert = NewCertificate(common_name, validity);
  if (!cert) return cert.error();
  X509* c = cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(c));
  X509_set_pubkey(c, key->get());
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (auto status = AddExtension(c, c, nid, value); !status) return status.error();
  }
  if (X509_sign(c, key->get(), EVP_sha256()) <= 0) return OpenSslError("cannot sign CA");
  auto pem = CertificatePem(c);
  if (!pem) return pem.error();
  return KeyAndCertificate{*key_pem, *pem};
}

Result<SignedCertificate> Sign(const KeyAndCertificate& ca, const SignRequest& request) {
  auto bio = MemoryBio(request.csr_pem);
  Req req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return OpenSslError("csr is not a PEM certificate request");
  PKey public_key(X509_REQ_get_pubkey(req.get()));
  if (!public_key) return OpenSslError("csr carries no public key");
  if (X509_REQ_verify(req.get(), public_key.get()) != 1) {
    return OpenSslError("csr signature does not verify");
  }
  const int bits = EVP_PKEY_get_bits(public_key.get());
  if (EVP_PKEY_is_a(public_key.get(), "EC")) {
    if (bits != 256 && bits != 384) {
      return MakeError(ErrorCode::kInvalidArgument, "csr key must be EC P-256 or P-384");
    }
  } else if (EVP_PKEY_is_a(public_key.get(), "RSA")) {
    if (bits < 2048)
      return MakeError(ErrorCode::kInvalidArgument, "csr RSA key is under 2048 bits");
  } else {
    return MakeError(ErrorCode::kInvalidArgument, "csr key must be EC or RSA");
  }

  auto ca_key = ReadKey(ca.key_pem);
  if (!ca_key) return ca_key.error();
  auto ca_cert = ReadCertificate(ca.certificate_pem);
  if (!ca_cert) return ca_cert.error();
  auto cert = NewCertificate(request.common_name, request.validity);
  if (!cert) return cert.error();
  X509* c = cert->get();
  X509_set_issuer_name(c, X509_get_subject_name(ca_cert->get()));
  X509_set_pubkey(c, public_key.get());
  const bool server = request.usage == Usage::kServer;
  if (auto s = AddExtension(c, ca_cert->get(), NID_basic_constraints, "critical,CA:FALSE"); !s) {
    return s.error();
  }
  if (auto s = AddExtension(c, ca_cert->get(), NID_key_usage, "critical,digitalSignature"); !s) {
    return s.error();
  }
  if (auto s =
          AddExtension(c, ca_cert->get(), NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
      !s) {
    return s.error();
  }
  if (auto s = AddExtension(c, ca_cert->get(), NID_authority_key_identifier, "keyid"); !s) {
    return s.error();
  }
  if (!request.names.empty()) {
    std::string sans;
    for (const auto& name : request.names) {
      if (!sans.empty()) sans += ',';
      sans += (LooksLikeIpAddress(name) ? "IP:" : "DNS:") + name;
    }
    if (auto s = AddExtension(c, ca_cert->get(), NID_subject_alt_name, sans); !s) return s.error();
  }
  if (X509_sign(c, ca_key->get(), EVP_sha256()) <= 0) return OpenSslError("cannot sign");

  SignedCertificate out;
  auto pem = CertificatePem(c);
  if (!pem) return pem.error();
  out.certificate_pem = std::move(*pem);
  out.serial_hex = SerialHex(c);
  out.not_after_unix = UnixTime(X509_get0_notAfter(c));
  return out;
}

Result<CertificateInfo> Inspect(const std::string& certificate_pem) {
  auto cert = ReadCertificate(certificate_pem);
  if (!cert) return cert.error();
  auto name = CommonName(certificate_pem);
  if (!name) return name.error();
  return CertificateInfo{*name, SerialHex(cert->get()), UnixTime(X509_get0_notBefore(cert->get())),
                         UnixTime(X509_get0_notAfter(cert->get()))};
}

Status MatchesKey(const std::string& certificate_pem, const std::string& key_pem) {
  auto cert = ReadCertificate(certificate_pem);
  if (!cert) return cert.error();
  auto key = ReadKey(key_pem);
  if (!key) return key.error();
  if (X509_check_private_key(cert->get(), key->get()) != 1) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument, "the certificate is not for this key");
  }
  return {};
}

Status VerifyIssued(const std::string& certificate_pem, const std::string& ca_pem,
                    const std::string& key_pem) {
  if (auto s = MatchesKey(certificate_pem, key_pem); !s) return s;
  auto cert = ReadCertificate(certificate_pem);
  if (!cert) return cert.error();
  auto ca = ReadCertificate(ca_pem);
  if (!ca) return ca.error();
  using Store = std::unique_ptr<X509_STORE, Deleter<X509_STORE_free>>;
  using StoreContext = std::unique_ptr<X509_STORE_CTX, Deleter<X509_STORE_CTX_free>>;
  Store store(X509_STORE_new());
  StoreContext context(X509_STORE_CTX_new());
  if (!store || !context || X509_STORE_add_cert(store.get(), ca->get()) != 1 ||
      X509_STORE_CTX_init(context.get(), store.get(), cert->get(), nullptr) != 1) {
    return OpenSslError("cannot set up certificate verification");
  }
  X509_STORE_CTX_set_purpose(context.get(), X509_PURPOSE_SSL_CLIENT);
  if (X509_verify_cert(context.get()) != 1) {
    const int error = X509_STORE_CTX_get_error(context.get());
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidArgument,
                     std::string("the certificate does not verify against the CA: ") +
                         X509_verify_cert_error_string(error));
  }
  return {};
}

Result<std::string> Fingerprint(const std::string& certificate_pem) {
  auto cert = ReadCertificate(certificate_pem);
  if (!cert) return cert.error();
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  if (X509_digest(cert->get(), EVP_sha256(), digest.data(), &size) != 1) {
    return OpenSslError("cannot digest certificate");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "SHA256:";
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4U];
    out += kHex[digest[i] & 0xFU];
  }
  return out;
}

Result<std::string> CommonName(const std::string& certificate_pem) {
  auto cert = ReadCertificate(certificate_pem);
  if (!cert) return cert.error();
  std::array<char, 256> buffer{};
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert->get()), NID_commonName,
                                    buffer.data(), buffer.size());
  if (n < 0) return MakeError(ErrorCode::kInvalidArgument, "certificate has no commonName");
  return std::string(buffer.data(), static_cast<std::size_t>(n));
}

std::string RandomToken(std::size_t bytes) {
  std::string raw(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes));
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned int buffer = 0;
  int bits = 0;
  for (unsigned char c : raw) {
    buffer = (buffer << 8U) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kAlphabet[(buffer >> static_cast<unsigned>(bits)) & 0x3FU];
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << static_cast<unsigned>(6 - bits)) & 0x3FU];
  return out;
}

namespace {

std::string Hex(const std::array<unsigned char, 32>& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(64);
  for (unsigned char b : digest) {
    out += kHex[b >> 4U];
    out += kHex[b & 0xFU];
  }
  return out;
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, 32> digest{};
  EVP_Digest(data.data(), data.size(), digest.data(), nullptr, EVP_sha256(), nullptr);
  return Hex(digest);
}

std::string HmacSha256Hex(std::string_view key, std::string_view data) {
  std::array<unsigned char, 32> digest{};
  std::size_t length = digest.size();
  EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
            reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data(),
            digest.size(), &length);
  return Hex(digest);
}

std::string NewUuid() {
  std::array<unsigned char, 16> b{};
  RAND_bytes(b.data(), b.size());
  b[6] = (b[6] & 0x0FU) | 0x40U;
  b[8] = (b[8] & 0x3FU) | 0x80U;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4U];
    out += kHex[b[i] & 0xFU];
  }
  return out;
}

}  // namespace fleetdesk::crypto
