//! mesh.yaml's `gateway:`: the spec's own checks (routes, hosts, limits), that it sends only
//! to declared services, and that its files are usable now — the certificate and key a
//! matching PEM pair, the key file present and private — so a mistake stops `meshctl up`
//! before anything starts. The gateway's proxy becomes one more instance, of service
//! `gateway` (identity `…/sa/gateway`), whose upstreams are the routes' services.

use std::collections::BTreeMap;

use super::yaml_pos::YamlPath;
use super::{Instance, Issue, Protocol, Service, Upstream, Validator};
use crate::api::api_keys::{KeyFile, KeyFileError};
use crate::policy::gateway::{GATEWAY_SERVICE, GatewaySpec, Step};

impl Validator<'_> {
    pub(super) fn gateway(
        &self,
        root: &YamlPath,
        raw: &GatewaySpec,
        services: &[Service],
    ) -> Result<(GatewaySpec, Service, Instance), Issue> {
        let at = root.key("gateway");
        if services.iter().any(|s| s.name == GATEWAY_SERVICE) {
            return Err(Issue::key(
                root.key("services").key(GATEWAY_SERVICE),
                "`gateway` is the name of the mesh's gateway (declared under `gateway:`): rename this service",
            ));
        }
        raw.check(|name| services.iter().any(|s| s.name == name))
            .map_err(|issue| {
                let mut path = at.clone();
                for step in issue.at {
                    path = match step {
                        Step::Key(k) => path.key(k),
                        Step::Name(k) => path.key(&k),
                        Step::Index(i) => path.index(i),
                    };
                }
                Issue::value(path, issue.message)
            })?;
        for (i, r) in raw.routes.iter().enumerate() {
            let tcp = services
                .iter()
                .any(|s| s.name == r.service && s.protocol == Some(Protocol::Tcp));
            if tcp {
                let message = format!("`{}` is declared tcp: the gateway forwards HTTP", r.service);
                return Err(Issue::value(
                    at.key("routes").index(i).key("service"),
                    message,
                ));
            }
        }
        super::proxy_workers(at.key("workers"), raw.workers)?;
        let mut spec = raw.clone();
        if let Some(tls) = &mut spec.tls {
            tls.cert = self.base_dir.join(&tls.cert);
            tls.key = self.base_dir.join(&tls.key);
            crate::identity::server_tls::server_config(&tls.cert, &tls.key)
                .map_err(|m| Issue::value(at.key("tls"), m))?;
        }
        if let Some(file) = &mut spec.keys_file {
            *file = self.base_dir.join(&*file);
            match KeyFile::load(file) {
                Ok(_) => {}
                Err(KeyFileError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    let message = format!(
                        "{} does not exist: create it with `meshctl gateway keys add NAME --keys-file {}`",
                        file.display(),
                        file.display()
                    );
                    return Err(Issue::value(at.key("keys_file"), message));
                }
                Err(e) => return Err(Issue::value(at.key("keys_file"), e.to_string())),
            }
        }
        let upstreams: Vec<Upstream> = spec
            .services()
            .into_iter()
            .map(|service| Upstream {
                service,
                port: None,
            })
            .collect();
        let service = Service {
            name: GATEWAY_SERVICE.to_string(),
            protocol: Some(Protocol::Http),
            versions: Vec::new(),
            upstreams: upstreams.clone(),
            policy: Default::default(),
        };
        let instance = Instance {
            service: GATEWAY_SERVICE.to_string(),
            version: None,
            port: None,
            replica: 0,
            admin_port: None,
            proxy_workers: spec.workers,
            replicas: 1,
            protocol: Some(Protocol::Http),
            command: None,
            env: BTreeMap::new(),
            workdir: self.base_dir.clone(),
            upstreams,
        };
        Ok((spec, service, instance))
    }
}
