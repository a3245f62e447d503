//! `farm certs`: the farm's own certificate authority and the certificates of its
//! parties. `init DIR` makes the CA (`ca.pem`, and `ca.key`, which never leaves the
//! operator's hands); `issue --ca DIR --role ROLE NAME --out DIR2` writes one party's
//! credentials directory (`ca.pem`, `cert.pem`, `key.pem`) that its `--tls DIR2`
//! reads. The name is the certificate's common name, the role its organizational
//! unit; an agent's name is the agent id it may use.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use testfarm_proto::tls::{Role, Tls, CA_FILE, CERT_FILE, COORDINATOR_DOMAIN, KEY_FILE};

use crate::error::CliError;

/// The CA's key, beside its certificate in the CA directory.
pub const CA_KEY_FILE: &str = "ca.key";

fn failed(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::Infrastructure(format!("{what}: {e}"))
}

fn write(path: &Path, text: &str, secret: bool) -> Result<(), CliError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if secret { 0o600 } else { 0o644 })
        .open(path)
        .map_err(|e| failed(&path.display().to_string(), e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| failed(&path.display().to_string(), e))
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    // An hour back, for clocks a little behind.
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(days);
}

/// Makes a new CA in `dir`; refuses to overwrite one.
pub fn init(dir: &Path, days: i64) -> Result<(), CliError> {
    if dir.join(CA_FILE).exists() {
        return Err(CliError::Usage(format!(
            "{}: a CA is there already (certificates it issued would stop working)",
            dir.join(CA_FILE).display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| failed(&dir.display().to_string(), e))?;
    let key = KeyPair::generate().map_err(|e| failed("CA key", e))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, "testfarm CA");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity(&mut params, days);
    let cert = params.self_signed(&key).map_err(|e| failed("CA certificate", e))?;
    write(&dir.join(CA_KEY_FILE), &key.serialize_pem(), true)?;
    write(&dir.join(CA_FILE), &cert.pem(), false)
}

/// What one certificate is for.
pub struct Request<'a> {
    pub role: Role,
    pub name: &'a str,
    /// More server names (coordinators only; every coordinator certificate names
    /// [`COORDINATOR_DOMAIN`], the one clients check).
    pub hosts: &'a [String],
    pub days: i64,
}

/// Issues a certificate signed by the CA in `ca_dir` and writes the party's
/// credentials directory `out`.
pub fn issue(ca_dir: &Path, request: &Request, out: &Path) -> Result<(), CliError> {
    let name = request.name;
    if name.is_empty() || name.len() > 200 || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(CliError::Usage(format!(
            "certificate name `{name}`: 1 to 200 characters, no `/` or control characters"
        )));
    }
    if request.role != Role::Coordinator && !request.hosts.is_empty() {
        return Err(CliError::Usage(
            "--host: only a coordinator certificate names hosts".into(),
        ));
    }
    let read = |file: &str| {
        let path = ca_dir.join(file);
        std::fs::read_to_string(&path)
            .map_err(|e| CliError::Usage(format!("{}: {e} (make a CA with `farm certs init`)", path.display())))
    };
    let (ca_pem, ca_key) = (read(CA_FILE)?, read(CA_KEY_FILE)?);
    let ca_key =
        KeyPair::from_pem(&ca_key).map_err(|e| failed(&format!("{}", ca_dir.join(CA_KEY_FILE).display()), e))?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key)
        .map_err(|e| failed(&format!("{}", ca_dir.join(CA_FILE).display()), e))?;

    let mut names = Vec::new();
    if request.role == Role::Coordinator {
        names.push(COORDINATOR_DOMAIN.to_string());
        names.extend(request.hosts.iter().cloned());
    }
    let mut params = CertificateParams::new(names).map_err(|e| CliError::Usage(format!("--host: {e}")))?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationalUnitName, request.role.as_str());
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.extended_key_usages = match request.role {
        // A coordinator serves, and is a client of its peers.
        Role::Coordinator => vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth],
        Role::Agent | Role::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
    };
    validity(&mut params, request.days);
    let key = KeyPair::generate().map_err(|e| failed("key", e))?;
    let cert = params.signed_by(&key, &issuer).map_err(|e| failed("certificate", e))?;
    std::fs::create_dir_all(out).map_err(|e| failed(&out.display().to_string(), e))?;
    write(&out.join(CA_FILE), &ca_pem, false)?;
    write(&out.join(CERT_FILE), &cert.pem(), false)?;
    write(&out.join(KEY_FILE), &key.serialize_pem(), true)
}

pub fn certs_command(command: crate::args::CertsCommand) -> Result<(), CliError> {
    match command {
        crate::args::CertsCommand::Init { dir, days } => {
            init(&dir, days)?;
            println!(
                "{}: the farm CA (keep {CA_KEY_FILE} offline)",
                dir.join(CA_FILE).display()
            );
        }
        crate::args::CertsCommand::Show { dir } => print!("{}", show(&dir)?),
        crate::args::CertsCommand::Issue {
            name,
            role,
            ca,
            out,
            hosts,
            days,
        } => {
            let request = Request {
                role,
                name: &name,
                hosts: &hosts,
                days,
            };
            issue(&ca, &request, &out)?;
            println!("{}: {role} `{name}` (use --tls {})", out.display(), out.display());
        }
    }
    Ok(())
}

/// `farm certs show DIR`: who the credentials say their holder is, and for how long.
pub fn show(dir: &Path) -> Result<String, CliError> {
    let tls = Tls::load(dir).map_err(|e| CliError::Usage(e.to_string()))?;
    let mut out = String::new();
    if let Some(peer) = tls.peer() {
        out.push_str(&format!("{}: {peer}\n", dir.display()));
    }
    let names = tls.server_names();
    if !names.is_empty() {
        out.push_str(&format!("  server names: {}\n", names.join(", ")));
    }
    if let Some(until) = tls.valid_until() {
        out.push_str(&format!("  valid until {} ({} days)\n", until.text, until.days_left()));
    }
    Ok(out)
}

/// A CA in `dir` (made when missing) and credentials for `role NAME` in `dir/NAME`
/// (issued when missing): what `farm up` and the tests set up by themselves.
pub fn ensure(dir: &Path, role: Role, name: &str) -> Result<std::path::PathBuf, CliError> {
    if !dir.join(CA_FILE).exists() {
        init(dir, 3650)?;
    }
    let out = dir.join(name);
    if !out.join(CERT_FILE).exists() {
        let request = Request {
            role,
            name,
            hosts: &[],
            days: 365,
        };
        issue(dir, &request, &out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_credentials_load_and_name_their_role_and_holder() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), 30).unwrap();
        assert!(
            init(dir.path(), 30).is_err(),
            "a second init would orphan every certificate"
        );
        let out = dir.path().join("a1");
        let request = Request {
            role: Role::Agent,
            name: "a1",
            hosts: &[],
            days: 30,
        };
        issue(dir.path(), &request, &out).unwrap();
        let tls = Tls::load(&out).unwrap();
        let peer = tls.peer().unwrap();
        assert_eq!((peer.role, peer.name.as_str()), (Role::Agent, "a1"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join(KEY_FILE)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the key is the holder's alone");
        let bad = Request {
            name: "../x",
            ..request
        };
        assert!(issue(dir.path(), &bad, &out).is_err());
        let shown = show(&out).unwrap();
        assert!(shown.contains("agent `a1`"), "{shown}");
        assert!(shown.contains("(29 days)") || shown.contains("(30 days)"), "{shown}");
    }

    #[test]
    fn an_expired_certificate_is_refused_naming_when_it_expired() {
        let dir = tempfile::tempdir().unwrap();
        init(dir.path(), 30).unwrap();
        let node = dir.path().join("n1");
        let request = Request {
            role: Role::Coordinator,
            name: "n1",
            hosts: &["farm.example".to_string()],
            days: -1,
        };
        issue(dir.path(), &request, &node).unwrap();
        let e = Tls::load(&node).unwrap_err().to_string();
        assert!(e.contains("cert.pem: the certificate expired on"), "{e}");
        let fresh = Request { days: 30, ..request };
        issue(dir.path(), &fresh, &dir.path().join("n2")).unwrap();
        let shown = show(&dir.path().join("n2")).unwrap();
        assert!(
            shown.contains("coordinator.testfarm") && shown.contains("farm.example"),
            "{shown}"
        );
    }
}
