//! Rotation tests: the steps in order, each gate's pending proxies, the checkpoint on disk.

use super::*;

fn view(instance: &str, issuer: &str, bundle: &[&str]) -> ProxyView {
    ProxyView {
        instance: instance.into(),
        connected: true,
        report: Some(CertView {
            serial: "01".into(),
            not_after_unix: 0,
            issuer: issuer.into(),
            bundle: bundle.iter().map(|s| s.to_string()).collect(),
        }),
    }
}

fn started() -> Checkpoint {
    Checkpoint {
        step: Step::AwaitBundle,
        old_anchor: "A1".into(),
        new_anchor: Some("A2".into()),
        new_issuer: None,
    }
}

#[test]
fn steps_run_in_order_and_end_done() {
    let mut step = Step::AddAnchor;
    let mut seen = vec![step];
    while step != Step::Done {
        step = step.next();
        seen.push(step);
    }
    assert_eq!(&seen[..6], &Step::ALL);
    assert_eq!(seen[6], Step::Done);
    assert_eq!(Step::NewIssuer.index(), 2);
}

#[test]
fn the_new_issuer_waits_for_every_bundle() {
    let cp = started();
    let views = [view("web", "I1", &["A1", "A2"]), view("api", "I1", &["A1"])];
    let err = cp.ensure_ready(Step::NewIssuer, &views).unwrap_err();
    assert!(
        err.to_string()
            .contains("api (its bundle lacks the new anchor)"),
        "{err}"
    );
    assert!(!err.to_string().contains("web"), "{err}");
    let views = [
        view("web", "I1", &["A1", "A2"]),
        view("api", "I1", &["A1", "A2"]),
    ];
    cp.ensure_ready(Step::NewIssuer, &views).unwrap();
}

#[test]
fn dropping_the_old_anchor_is_refused_while_a_leaf_is_from_the_old_chain() {
    let cp = Checkpoint {
        step: Step::DropAnchor,
        new_issuer: Some("I2".into()),
        ..started()
    };
    let views = [
        view("web", "I2", &["A1", "A2"]),
        view("api", "I1", &["A1", "A2"]),
    ];
    let err = cp.ensure_ready(Step::DropAnchor, &views).unwrap_err();
    assert!(matches!(&err, RotationError::NotReady { pending, .. } if pending.len() == 1));
    assert!(
        err.to_string()
            .contains("api (its leaf is from the old issuer)"),
        "{err}"
    );
    let views = [
        view("web", "I2", &["A1", "A2"]),
        view("api", "I2", &["A1", "A2"]),
    ];
    cp.ensure_ready(Step::DropAnchor, &views).unwrap();
}

#[test]
fn silent_and_disconnected_proxies_block_every_gate() {
    let cp = Checkpoint {
        new_issuer: Some("I2".into()),
        ..started()
    };
    let mut gone = view("api", "I2", &["A2"]);
    gone.connected = false;
    let silent = ProxyView {
        instance: "web".into(),
        connected: true,
        report: None,
    };
    for step in [Step::AwaitBundle, Step::AwaitLeaves, Step::AwaitDropped] {
        let pending = cp.pending(step, &[gone.clone(), silent.clone()]).unwrap();
        assert_eq!(pending.len(), 2, "{step:?}");
        assert_eq!(pending[0].reason, "not connected");
        assert_eq!(pending[1].reason, "never reported its certificate");
    }
}

#[test]
fn the_drop_completes_when_every_bundle_holds_the_new_anchor_only() {
    let cp = Checkpoint {
        step: Step::AwaitDropped,
        new_issuer: Some("I2".into()),
        ..started()
    };
    let views = [view("web", "I2", &["A2"]), view("api", "I2", &["A1", "A2"])];
    let pending = cp.pending(Step::AwaitDropped, &views).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].instance, "api");
}

#[test]
fn a_checkpoint_without_the_new_anchor_is_corrupt() {
    let cp = Checkpoint::start("A1".into());
    assert!(cp.pending(Step::AddAnchor, &[]).unwrap().is_empty());
    assert!(matches!(
        cp.pending(Step::AwaitBundle, &[]),
        Err(RotationError::Incomplete("anchor"))
    ));
}

#[test]
fn the_checkpoint_survives_a_restart_and_disappears_when_done() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(Checkpoint::load(dir.path()).unwrap(), None);
    let cp = Checkpoint {
        step: Step::AwaitLeaves,
        new_issuer: Some("I2".into()),
        ..started()
    };
    cp.save(dir.path()).unwrap();
    assert_eq!(Checkpoint::load(dir.path()).unwrap(), Some(cp.clone()));
    Checkpoint {
        step: Step::Done,
        ..cp
    }
    .save(dir.path())
    .unwrap();
    assert_eq!(Checkpoint::load(dir.path()).unwrap(), None);
}
