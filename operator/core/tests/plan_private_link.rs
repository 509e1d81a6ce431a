//! Private Link Services (`azure-pls-*`): created on an internal Service's frontend once Azure
//! has it, kept up to date, shared with Services of the same frontend, removed before the
//! frontend, and never made where Azure would refuse one or over someone else's.

mod support;

use std::collections::BTreeMap;

use aksnet_core::annotations::INTERNAL;
use aksnet_core::annotations::private_link as pls;
use aksnet_core::diff::{Op, diff};
use aksnet_core::model::{Observed, PrivateLinkService};
use aksnet_core::naming::{TAG_OWNER, TAG_SERVICE};
use aksnet_core::plan::ServiceOutcome;
use aksnet_core::problem::Problem;
use aksnet_core::simulate;
use k8s_openapi::api::core::v1::Service;
use serde_json::json;
use support::*;

const SUB_A: &str = "00000000-0000-0000-0000-00000000000a";

/// The base state with the VNet read: `aks-subnet` (policies disabled) and `locked` (enabled).
fn vnet() -> Observed {
    let mut o = observed_base();
    o.subnets = Some(BTreeMap::from([
        ("aks-subnet".to_string(), vec!["10.224.0.0/16".to_string()]),
        ("locked".to_string(), vec!["10.225.0.0/24".to_string()]),
    ]));
    o.private_link_subnets.insert("aks-subnet".into());
    o
}

/// An internal Service `name` with these more annotations.
fn internal(name: &str, created: i64, annotations: &[(&str, &str)]) -> Service {
    let mut svc = annotated(service(name, created, &[(80, 30080)]), INTERNAL, "true");
    for (k, v) in annotations {
        svc = annotated(svc, k, v);
    }
    svc
}

fn only_pls(state: &Observed) -> &PrivateLinkService {
    assert_eq!(state.private_link_services.len(), 1, "{state:#?}");
    &state.private_link_services[0]
}

#[test]
fn a_private_link_service_follows_its_service_and_goes_before_its_frontend() {
    let web = internal(
        "web",
        1,
        &[
            (pls::CREATE, "true"),
            (pls::IP_COUNT, "2"),
            (pls::IPS, "10.224.1.10"),
            (pls::VISIBILITY, "*"),
            (pls::AUTO_APPROVAL, SUB_A),
            (pls::FQDNS, "web.example.com"),
        ],
    );
    // First the frontend, then (once Azure shows it) the Private Link Service.
    let desired = plan_with(&network(), std::slice::from_ref(&web), &nodes(2), &vnet());
    assert!(desired.private_link_services.is_empty());
    assert!(
        desired
            .pending
            .iter()
            .any(|p| p.contains("waits for frontend"))
    );
    let (state, desired, _) =
        converge(&network(), std::slice::from_ref(&web), &nodes(2), vnet(), 4);
    let p = only_pls(&state);
    let frontend = &state
        .load_balancer("kubernetes-internal")
        .expect("ilb")
        .frontends[0];
    assert_eq!(p.name, format!("pls-{}", frontend.name));
    assert!(p.frontend_ids[0].ends_with(&format!(
        "/loadBalancers/kubernetes-internal/frontendIPConfigurations/{}",
        frontend.name
    )));
    assert_eq!(
        p.tags.get(TAG_SERVICE).map(String::as_str),
        Some("default/web")
    );
    assert!(p.tags.contains_key(TAG_OWNER));
    assert_eq!(p.ip_configurations.len(), 2);
    let primary = p
        .ip_configurations
        .iter()
        .find(|c| c.primary)
        .expect("a primary");
    assert_eq!(primary.static_ip.as_deref(), Some("10.224.1.10"));
    assert!(
        primary
            .subnet_id
            .ends_with("/virtualNetworks/aks-vnet/subnets/aks-subnet")
    );
    assert_eq!(
        (p.visibility.clone(), p.auto_approval.clone()),
        (vec!["*".to_string()], vec![SUB_A.to_string()])
    );
    assert_eq!(p.fqdns, ["web.example.com"]);
    assert!(matches!(
        desired.services["default/web"],
        ServiceOutcome::Planned { .. }
    ));
    assert!(diff(&desired, &state).is_empty(), "steady state");

    // A changed setting is one write of the Private Link Service.
    let proxied = annotated(web.clone(), pls::PROXY_PROTOCOL, "true");
    let d = plan_with(
        &network(),
        std::slice::from_ref(&proxied),
        &nodes(2),
        &state,
    );
    let ops: Vec<String> = diff(&d, &state).iter().map(Op::describe).collect();
    assert_eq!(ops, [format!("put privateLinkService {}", p.name)]);

    // A new name replaces it: the old one goes first (one frontend takes one).
    let renamed = annotated(web.clone(), pls::NAME, "web-pls");
    let d = plan_with(
        &network(),
        std::slice::from_ref(&renamed),
        &nodes(2),
        &state,
    );
    let ops: Vec<String> = diff(&d, &state).iter().map(Op::describe).collect();
    assert_eq!(
        ops,
        [
            format!("delete privateLinkService {}", p.name),
            "put privateLinkService web-pls".to_string()
        ]
    );
    let (renamed_state, _, _) = converge(&network(), &[renamed], &nodes(2), state.clone(), 4);
    assert_eq!(only_pls(&renamed_state).name, "web-pls");

    // The Service goes: the Private Link Service first, then its frontend (Azure refuses the
    // other way round, and the simulation does too).
    let d = plan_with(&network(), &[], &nodes(2), &state);
    let ops: Vec<String> = diff(&d, &state).iter().map(Op::describe).collect();
    assert_eq!(
        ops[0],
        format!("delete privateLinkService {}", p.name),
        "{ops:#?}"
    );
    let (state, _, _) = converge(&network(), &[], &nodes(2), state, 4);
    assert!(state.private_link_services.is_empty());

    // Asking for it no more removes it and keeps the Service.
    let (state, _, _) = converge(&network(), std::slice::from_ref(&web), &nodes(2), state, 4);
    let off = annotated(web, pls::CREATE, "false");
    let (state, d, _) = converge(&network(), &[off], &nodes(2), state, 4);
    assert!(state.private_link_services.is_empty());
    assert!(matches!(
        d.services["default/web"],
        ServiceOutcome::Planned { .. }
    ));
}

#[test]
fn what_azure_would_refuse_rejects_the_service_and_writes_nothing() {
    type Check = fn(&Problem) -> bool;
    let cases: Vec<(Service, &str, Check)> = vec![
        (
            annotated(service("web", 1, &[(80, 30080)]), pls::CREATE, "true"),
            pls::CREATE,
            |p| matches!(p, Problem::Unsupported(m) if m.contains("internal")),
        ),
        (
            internal(
                "web",
                1,
                &[(pls::CREATE, "true"), (INTERNAL_SUBNET_KEY, "locked")],
            ),
            pls::CREATE,
            |p| matches!(p, Problem::Conflict(m) if m.contains("locked") && m.contains("privateLinkServiceNetworkPolicies")),
        ),
        (
            internal("web", 1, &[(pls::CREATE, "true"), (pls::SUBNET, "nowhere")]),
            pls::SUBNET,
            |p| matches!(p, Problem::NotFound(m) if m.contains("nowhere")),
        ),
        (
            internal("web", 1, &[(pls::CREATE, "true"), (pls::IPS, "10.224.0.2")]),
            pls::IPS,
            |p| matches!(p, Problem::InvalidValue(m) if m.contains("first four")),
        ),
        (
            internal(
                "web",
                1,
                &[
                    (pls::CREATE, "true"),
                    (pls::RESOURCE_GROUP, "someone-elses"),
                ],
            ),
            pls::RESOURCE_GROUP,
            |p| matches!(p, Problem::ResourceGroupNotAllowed(_)),
        ),
        (
            with(
                internal("web", 1, &[(pls::CREATE, "true")]),
                json!({"spec": {"ipFamilies": ["IPv6"]}}),
            ),
            pls::CREATE,
            |p| matches!(p, Problem::Unsupported(m) if m.contains("IPv4")),
        ),
    ];
    for (svc, field, check) in cases {
        let (state, d, _) = converge(&network(), std::slice::from_ref(&svc), &nodes(2), vnet(), 4);
        let errors = rejected(&d, "web");
        assert!(
            errors.iter().any(|(f, p)| f == field && check(p)),
            "{field}: {errors:?}"
        );
        assert!(state.private_link_services.is_empty());
        assert!(
            state.load_balancers.iter().all(|lb| lb.rules.is_empty()),
            "nothing written for it"
        );
    }
}

/// The internal-subnet annotation (the Private Link Service follows the frontend's subnet).
const INTERNAL_SUBNET_KEY: &str = aksnet_core::annotations::INTERNAL_SUBNET;

#[test]
fn services_of_one_frontend_share_its_private_link_service() {
    let ip = "10.224.2.20";
    let shared = |name: &str, created: i64, more: &[(&str, &str)]| {
        let mut svc = with(
            internal(name, created, more),
            json!({"spec": {"loadBalancerIP": ip}}),
        );
        if let Some(spec) = svc.spec.as_mut()
            && let Some(ports) = spec.ports.as_mut()
        {
            ports[0].port = 80 + created as i32;
        }
        svc
    };
    let older = shared(
        "web",
        1,
        &[(pls::CREATE, "true"), (pls::NAME, "shared-pls")],
    );
    let quiet = shared("api", 2, &[(pls::CREATE, "true")]);
    let (state, d, _) = converge(&network(), &[older.clone(), quiet], &nodes(2), vnet(), 4);
    assert!(matches!(
        d.services["default/api"],
        ServiceOutcome::Planned { .. }
    ));
    assert_eq!(only_pls(&state).name, "shared-pls");
    assert_eq!(
        only_pls(&state).tags.get(TAG_SERVICE).map(String::as_str),
        Some("default/web")
    );
    // The younger may not configure the older's.
    let loud = shared(
        "api",
        2,
        &[(pls::CREATE, "true"), (pls::PROXY_PROTOCOL, "true")],
    );
    let (_, d, _) = converge(&network(), &[older, loud], &nodes(2), state, 4);
    let errors = rejected(&d, "api");
    assert!(
        matches!(&errors[0], (f, Problem::Conflict(m)) if f == pls::PROXY_PROTOCOL && m.contains("default/web")),
        "{errors:?}"
    );
}

#[test]
fn a_private_link_service_of_someone_else_is_never_taken_over_and_a_rejected_service_keeps_its_own()
{
    let web = internal("web", 1, &[(pls::CREATE, "true"), (pls::NAME, "theirs")]);
    let mut start = vnet();
    start.private_link_services.push(PrivateLinkService {
        name: "theirs".into(),
        resource_group: RG.into(),
        location: "westeurope".into(),
        etag: Some("1".into()),
        ..Default::default()
    });
    let (state, d, _) = converge(
        &network(),
        std::slice::from_ref(&web),
        &nodes(2),
        start.clone(),
        4,
    );
    assert!(
        matches!(&rejected(&d, "web")[0], (f, Problem::Conflict(m)) if f == pls::NAME && m.contains("not created by aksnet"))
    );
    assert_eq!(state.private_link_services, start.private_link_services);

    // Served with its own; then a typo in an annotation: rejected, and its Private Link
    // Service stays as it is.
    let ours = internal("web", 1, &[(pls::CREATE, "true")]);
    let (state, _, _) = converge(
        &network(),
        std::slice::from_ref(&ours),
        &nodes(2),
        vnet(),
        4,
    );
    let before = only_pls(&state).clone();
    let typo = annotated(ours, pls::IP_COUNT, "nine");
    let d = plan_with(&network(), &[typo], &nodes(2), &state);
    assert!(matches!(
        d.services["default/web"],
        ServiceOutcome::Rejected { .. }
    ));
    assert!(
        diff(&d, &state).is_empty(),
        "a frozen Service's objects stay"
    );
    let mut after = state.clone();
    simulate::apply(&mut after, &diff(&d, &state)).expect("nothing to apply");
    assert_eq!(only_pls(&after), &before);
}

#[test]
fn deleting_the_network_deletes_its_private_link_services_before_their_frontends() {
    let web = internal("web", 1, &[(pls::CREATE, "true")]);
    let (mut state, _, _) = converge(&network(), &[web], &nodes(2), vnet(), 4);
    assert_eq!(state.private_link_services.len(), 1);
    let mut first = true;
    for _ in 0..4 {
        let ops = diff(&aksnet_core::plan::teardown(&network(), &state), &state);
        if ops.is_empty() {
            break;
        }
        if first {
            // The internal load balancer keeps the frontend the Private Link Service serves
            // until it is gone.
            assert!(
                matches!(ops[0], Op::DeletePrivateLinkService { .. }),
                "{ops:#?}"
            );
            assert!(
                !ops.iter()
                    .any(|op| op.describe() == "delete loadBalancer kubernetes-internal"),
                "{ops:#?}"
            );
            first = false;
        }
        simulate::apply(&mut state, &ops).expect("Azure accepts the teardown");
    }
    assert!(state.private_link_services.is_empty());
    assert!(state.load_balancers.is_empty());
}
