//! Test-only certificates, made fresh for each test (nothing secret is checked in): a private
//! CA, a server certificate it signs for the given names, and an unrelated self-signed one,
//! written as PEM files a test passes to `--ca-cert`, `--tls-cert`/`--tls-key` or Nginx.

use std::io;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// PEM files in a directory: `ca.pem` (the CA's certificate), `cert.pem` + `key.pem` (the
/// server's, for `names`), `other-ca.pem` (a CA that signed nothing here).
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub other_ca: PathBuf,
}

fn ca(name: &str) -> Result<CertifiedIssuer<'static, KeyPair>, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate()?)
}

impl Pki {
    /// Makes the CA and a server certificate for `names` (DNS names or IP addresses) in `dir`.
    pub fn create(dir: &Path, names: &[&str]) -> io::Result<Self> {
        let err = |e: rcgen::Error| io::Error::other(e.to_string());
        let authority = ca("chat-harness test CA").map_err(err)?;
        let key = KeyPair::generate().map_err(err)?;
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .map_err(err)?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("localhost"),
        );
        let cert = params.signed_by(&key, &authority).map_err(err)?;
        let other = ca("an unrelated CA").map_err(err)?;
        let pki = Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            other_ca: dir.join("other-ca.pem"),
        };
        std::fs::write(&pki.ca, authority.pem())?;
        std::fs::write(&pki.cert, cert.pem())?;
        std::fs::write(&pki.key, key.serialize_pem())?;
        std::fs::write(&pki.other_ca, other.pem())?;
        Ok(pki)
    }
}

/// A self-signed certificate and its key made as most guides say, with the real `openssl`
/// (installed by scripts/setup): `openssl req -x509 -newkey rsa:2048 -nodes -addext
/// subjectAltName=...`. OpenSSL marks it as a CA (basicConstraints CA:TRUE) by default.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl SelfSigned {
    /// Makes `<stem>.pem` and `<stem>-key.pem` in `dir` for `names` (DNS names).
    pub fn openssl(dir: &Path, stem: &str, names: &[&str]) -> io::Result<Self> {
        let made = Self {
            cert: dir.join(format!("{stem}.pem")),
            key: dir.join(format!("{stem}-key.pem")),
        };
        let san: Vec<String> = names.iter().map(|n| format!("DNS:{n}")).collect();
        let status = std::process::Command::new("openssl")
            .args([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            ])
            .arg("-keyout")
            .arg(&made.key)
            .arg("-out")
            .arg(&made.cert)
            .args([
                "-subj",
                &format!("/CN={}", names.first().unwrap_or(&"localhost")),
            ])
            .args(["-addext", &format!("subjectAltName={}", san.join(","))])
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| {
                io::Error::other(format!("run openssl (scripts/setup installs it): {e}"))
            })?;
        if !status.success() {
            return Err(io::Error::other(format!("openssl req -x509: {status}")));
        }
        Ok(made)
    }
}
