//! Each supported Service annotation and field, with good and bad values, through plan, diff and
//! a simulated Azure. The test names are the ones the compatibility table in
//! `docs/annotations.md` points to.

mod support;

use aksnet_core::annotations as a;
use aksnet_core::model::{
    Access, Distribution, Family, FrontendTarget, LoadBalancer, Observed, ProbeProtocol, Protocol,
};
use aksnet_core::naming::TAG_SERVICE;
use aksnet_core::plan::{Desired, ServiceOutcome};
use aksnet_core::problem::Problem;
use k8s_openapi::api::core::v1::Service;
use serde_json::json;
use support::*;

/// Converge one set of Services on three nodes; the final Azure state and the last plan.
fn run(services: &[Service]) -> (Observed, Desired) {
    run_on(observed_base(), services)
}

fn run_on(observed: Observed, services: &[Service]) -> (Observed, Desired) {
    let (state, desired, _) = converge(&network(), services, &nodes(3), observed, 4);
    (state, desired)
}

fn public_lb(state: &Observed) -> &LoadBalancer {
    state.load_balancer("kubernetes").expect("public LB exists")
}

fn internal_lb(state: &Observed) -> Option<&LoadBalancer> {
    state.load_balancer("kubernetes-internal")
}

fn planned(d: &Desired, name: &str) -> bool {
    matches!(
        d.services.get(&format!("default/{name}")),
        Some(ServiceOutcome::Planned { .. })
    )
}

/// A table row: annotation value → accepted or rejected.
fn check_values(key: &str, rows: &[(&str, bool)]) {
    check_values_on(service("web", 1, &[(80, 30080)]), key, rows)
}

/// [`check_values`] on Service `web` as `base` has it.
fn check_values_on(base: Service, key: &str, rows: &[(&str, bool)]) {
    for (value, ok) in rows {
        let svc = annotated(base.clone(), key, value);
        let (_, d) = run(&[svc]);
        if *ok {
            assert!(
                planned(&d, "web"),
                "{key}={value:?} should be accepted: {:?}",
                d.services
            );
        } else {
            let errs = rejected(&d, "web");
            assert!(
                errs.iter().any(|(f, _)| f == key),
                "{key}={value:?}: error must name the annotation: {errs:?}"
            );
        }
    }
}

#[test]
fn public_service_defaults() {
    let (state, d) = run(&[service("web", 1, &[(80, 30080), (443, 30443)])]);
    assert!(planned(&d, "web"));
    let lb = public_lb(&state);
    let web: Vec<_> = lb
        .rules
        .iter()
        .filter(|r| r.frontend_port == 80 || r.frontend_port == 443)
        .collect();
    assert_eq!(web.len(), 2);
    for r in &web {
        assert_eq!(r.protocol, Protocol::Tcp);
        assert_eq!(
            r.backend_port, r.frontend_port,
            "floating IP: backend port = service port"
        );
        assert!(r.floating_ip && r.tcp_reset);
        assert_eq!(r.idle_timeout_minutes, 4);
        assert_eq!(r.distribution, Distribution::Default);
        assert!(r.disable_outbound_snat, "outbound rule owns SNAT");
        let probe = lb
            .probes
            .iter()
            .find(|p| Some(&p.name) == r.probe.as_ref())
            .expect("probe");
        assert_eq!(probe.protocol, ProbeProtocol::Tcp);
        assert_eq!(
            probe.port,
            if r.frontend_port == 80 { 30080 } else { 30443 },
            "TCP probe on the node port"
        );
        assert_eq!((probe.interval_seconds, probe.threshold), (5, 2));
    }
    let pip = state
        .public_ips
        .iter()
        .find(|p| p.tags.get(TAG_SERVICE).map(String::as_str) == Some("default/web"))
        .expect("managed PIP");
    assert!(pip.address.is_some());
    let rules = service_rules(&state, "web");
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].sources, vec!["Internet"]);
    assert_eq!(rules[0].destinations, vec![pip.address.clone().unwrap()]);
    assert_eq!(rules[0].destination_ports, vec!["80", "443"]);
    assert!(
        matches!(&d.services["default/web"], ServiceOutcome::Planned { ingress } if ingress.len() == 1)
    );
}

#[test]
fn internal_annotation() {
    // Only exactly "true" and "false": the cloud provider makes anything else public, so a
    // typo would publish an internal Service; aksnet refuses it instead.
    check_values(
        a::INTERNAL,
        &[
            ("true", true),
            ("false", true),
            ("True", false),
            ("yes", false),
            ("", false),
        ],
    );
    for (value, internal) in [("true", true), ("false", false)] {
        let (state, d) = run(&[annotated(
            service("web", 1, &[(80, 30080)]),
            a::INTERNAL,
            value,
        )]);
        assert!(planned(&d, "web"));
        let ilb = internal_lb(&state);
        assert_eq!(ilb.is_some(), internal, "{value}");
        if let Some(ilb) = ilb {
            assert!(
                matches!(&ilb.frontends[0].target, FrontendTarget::Private { subnet_id, static_ip: None, .. } if subnet_id.ends_with("/virtualNetworks/aks-vnet/subnets/aks-subnet"))
            );
            assert!(!ilb.rules[0].disable_outbound_snat);
            assert_eq!(
                service_rules(&state, "web")[0].sources,
                vec!["VirtualNetwork"]
            );
            assert_eq!(
                service_rules(&state, "web")[0].destinations,
                vec![ilb.frontends[0].private_ip.clone().unwrap()]
            );
        }
    }
}

#[test]
fn internal_subnet_annotation() {
    let svc = annotated(
        annotated(service("web", 1, &[(80, 30080)]), a::INTERNAL, "true"),
        a::INTERNAL_SUBNET,
        "apps",
    );
    let (state, _) = run(&[svc]);
    let fe = &internal_lb(&state).expect("ILB").frontends[0];
    assert!(
        matches!(&fe.target, FrontendTarget::Private { subnet_id, .. } if subnet_id.ends_with("/subnets/apps"))
    );
    check_values_on(
        annotated(service("web", 1, &[(80, 30080)]), a::INTERNAL, "true"),
        a::INTERNAL_SUBNET,
        &[("apps", true), ("bad name!", false), ("", false)],
    );
    // On a public Service it would be ignored: refused instead.
    check_values(a::INTERNAL_SUBNET, &[("apps", false)]);
}

#[test]
fn ipv4_annotation_public() {
    let mut observed = observed_base();
    observed.public_ips.push(byo_ip("byo", RG, "20.1.2.3"));
    let svc = annotated(service("web", 1, &[(80, 30080)]), a::IPV4, "20.1.2.3");
    let (state, d) = run_on(observed, &[svc]);
    assert!(planned(&d, "web"));
    assert!(public_lb(&state).frontends.iter().any(|f| matches!(&f.target, FrontendTarget::Public { public_ip_id } if public_ip_id.ends_with("/publicIPAddresses/byo"))));
    assert!(
        !state
            .public_ips
            .iter()
            .any(|p| p.tags.contains_key(TAG_SERVICE)),
        "no managed PIP"
    );
    let (_, d) = run(&[annotated(
        service("web", 1, &[(80, 30080)]),
        a::IPV4,
        "20.9.9.9",
    )]);
    assert!(matches!(&rejected(&d, "web")[0], (f, Problem::NotFound(_)) if f == a::IPV4));
    check_values(a::IPV4, &[("not-an-ip", false), ("2001:db8::1", false)]);
    check_values(a::IPV6, &[("10.0.0.1", false)]);
}

#[test]
fn ipv4_annotation_internal() {
    let internal = |ip: &str| {
        annotated(
            annotated(service("web", 1, &[(80, 30080)]), a::INTERNAL, "true"),
            a::IPV4,
            ip,
        )
    };
    let (state, d) = run(&[internal("10.224.0.50")]);
    assert!(planned(&d, "web"));
    let fe = &internal_lb(&state).expect("ILB").frontends[0];
    assert!(
        matches!(&fe.target, FrontendTarget::Private { static_ip: Some(ip), .. } if ip == "10.224.0.50")
    );
    let (_, d) = run(&[internal("10.99.0.5")]);
    assert!(
        matches!(&rejected(&d, "web")[0].1, Problem::InvalidValue(m) if m.contains("outside the node subnet"))
    );
}

#[test]
fn load_balancer_ip_field() {
    let mut observed = observed_base();
    observed.public_ips.push(byo_ip("byo", RG, "20.1.2.3"));
    let svc = with(
        service("web", 1, &[(80, 30080)]),
        json!({"spec": {"loadBalancerIP": "20.1.2.3"}}),
    );
    let (state, d) = run_on(observed, &[svc]);
    assert!(planned(&d, "web"));
    assert!(
        public_lb(&state)
            .frontends
            .iter()
            .any(|f| f.name.contains("pip-byo"))
    );
    let bad = with(
        service("web", 1, &[(80, 30080)]),
        json!({"spec": {"loadBalancerIP": "x"}}),
    );
    assert_eq!(rejected(&run(&[bad]).1, "web")[0].0, "spec.loadBalancerIP");
}

#[test]
fn pip_name_and_resource_group_annotations() {
    let mut observed = observed_base();
    observed
        .public_ips
        .push(byo_ip("byo", "shared-ips", "20.1.2.3"));
    let svc = annotated(
        annotated(service("web", 1, &[(80, 30080)]), a::PIP_NAME, "byo"),
        a::RESOURCE_GROUP,
        "shared-ips",
    );
    // A resource group the AksNetwork does not list is refused, and nothing is written for it.
    let (state, d) = run_on(observed.clone(), std::slice::from_ref(&svc));
    assert!(
        matches!(&rejected(&d, "web")[0], (f, Problem::ResourceGroupNotAllowed(m)) if f == a::RESOURCE_GROUP && m.contains("publicIpResourceGroups"))
    );
    assert!(state.load_balancers.is_empty() || public_lb(&state).rules.is_empty());
    // Listed (in any case), it is used.
    let net = network_with(json!({"azure": {"publicIpResourceGroups": ["Shared-IPs"]}}));
    let (state, d, _) = converge(&net, std::slice::from_ref(&svc), &nodes(3), observed, 4);
    assert!(planned(&d, "web"));
    assert!(public_lb(&state).frontends.iter().any(|f| matches!(&f.target, FrontendTarget::Public { public_ip_id } if public_ip_id.contains("/resourceGroups/shared-ips/"))));
    // The Service goes away: the BYO IP is detached and kept.
    let (state, _, _) = converge(&net, &[], &nodes(3), state, 4);
    let byo = state
        .public_ip("shared-ips", "byo")
        .expect("BYO public IP is never deleted");
    assert!(
        byo.used_by.is_none() && byo.tags.is_empty(),
        "never tagged, detached"
    );
    // Not found, and bad values.
    let (_, d) = run(&[annotated(
        service("web", 1, &[(80, 30080)]),
        a::PIP_NAME,
        "nope",
    )]);
    assert!(matches!(&rejected(&d, "web")[0], (f, Problem::NotFound(_)) if f == a::PIP_NAME));
    check_values(a::PIP_NAME, &[("-bad", false)]);
    check_values(
        a::RESOURCE_GROUP,
        &[
            ("bad/rg", false),
            ("rg.", false),
            ("./rg", false),
            ("rg/", false),
        ],
    );
}

#[test]
fn dns_label_annotation() {
    let (state, _) = run(&[annotated(
        service("web", 1, &[(80, 30080)]),
        a::DNS_LABEL,
        "my-web",
    )]);
    assert!(
        state
            .public_ips
            .iter()
            .any(|p| p.dns_label.as_deref() == Some("my-web"))
    );
    check_values(
        a::DNS_LABEL,
        &[
            ("my-web", true),
            ("", true),
            ("My_Web", false),
            ("-x", false),
        ],
    );
    let one = annotated(service("one", 1, &[(80, 30080)]), a::DNS_LABEL, "same");
    let two = annotated(service("two", 2, &[(81, 30081)]), a::DNS_LABEL, "same");
    let (_, d) = run(&[two, one]);
    assert!(planned(&d, "one"));
    assert!(matches!(&rejected(&d, "two")[0].1, Problem::Conflict(m) if m.contains("default/one")));

    // A label another public IP of the region already holds: Azure would refuse it.
    let mut observed = observed_base();
    let mut squatter = byo_ip("squatter", RG, "20.0.0.9");
    squatter.dns_label = Some("taken".into());
    observed.public_ips.push(squatter);
    let svc = annotated(service("three", 3, &[(80, 30080)]), a::DNS_LABEL, "taken");
    let d = plan_with(&network(), &[svc], &nodes(1), &observed);
    let ServiceOutcome::Rejected { errors } = &d.services["default/three"] else {
        panic!("a taken label is refused: {:?}", d.services);
    };
    assert_eq!(errors[0].field, a::DNS_LABEL);
    assert!(
        matches!(&errors[0].problem, Problem::Conflict(m) if m.contains("squatter")),
        "{:?}",
        errors[0].problem
    );
}

#[test]
fn pip_prefix_annotation() {
    let id = format!(
        "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/publicIPPrefixes/pfx"
    );
    let (state, _) = run(&[annotated(
        service("web", 1, &[(80, 30080)]),
        a::PIP_PREFIX,
        &id,
    )]);
    let pip = state
        .public_ips
        .iter()
        .find(|p| p.tags.contains_key(TAG_SERVICE))
        .expect("managed PIP");
    assert_eq!(pip.prefix_id.as_deref(), Some(id.as_str()));
    assert!(
        pip.name.contains("-p"),
        "a prefix change makes a new PIP: the name carries it"
    );
    check_values(
        a::PIP_PREFIX,
        &[
            ("not-an-id", false),
            (
                "/subscriptions/x/resourceGroups/y/providers/Microsoft.Network/publicIPAddresses/z",
                false,
            ),
        ],
    );
}

#[test]
fn pip_tags_annotation() {
    let (state, _) = run(&[annotated(
        service("web", 1, &[(80, 30080)]),
        a::PIP_TAGS,
        "team=web, cost=42",
    )]);
    let pip = state
        .public_ips
        .iter()
        .find(|p| p.tags.contains_key(TAG_SERVICE))
        .expect("managed PIP");
    assert_eq!(pip.tags.get("team").map(String::as_str), Some("web"));
    assert_eq!(pip.tags.get("cost").map(String::as_str), Some("42"));
    check_values(
        a::PIP_TAGS,
        &[
            ("a=b", true),
            ("novalue", false),
            ("aksnet.io-owner=x", false),
            ("a/b=c", false),
            ("a\u{1}b=c", false),
            (&format!("{}=v", "k".repeat(512)), true),
            (&format!("{}=v", "k".repeat(513)), false),
            (&format!("k={}", "é".repeat(256)), true),
            (&format!("k={}", "v".repeat(257)), false),
        ],
    );
}

fn probe_of(state: &Observed, port: u16) -> Option<&aksnet_core::model::Probe> {
    let lb = public_lb(state);
    let rule = lb.rules.iter().find(|r| r.frontend_port == port)?;
    lb.probes
        .iter()
        .find(|p| Some(&p.name) == rule.probe.as_ref())
}

#[test]
fn health_probe_protocol_and_path_annotations() {
    let svc = annotated(service("web", 1, &[(80, 30080)]), a::PROBE_PROTOCOL, "Http");
    let (state, _) = run(std::slice::from_ref(&svc));
    let p = probe_of(&state, 80).expect("probe");
    assert_eq!(
        (p.protocol, p.port, p.path.as_deref()),
        (ProbeProtocol::Http, 30080, Some("/"))
    );
    let (state, _) = run(&[annotated(svc, a::PROBE_PATH, "/ready")]);
    assert_eq!(
        probe_of(&state, 80).unwrap().path.as_deref(),
        Some("/ready")
    );
    check_values(
        a::PROBE_PROTOCOL,
        &[("tcp", true), ("HTTPS", true), ("grpc", false)],
    );
    check_values(
        a::PROBE_PATH,
        &[("/x", true), ("x", false), ("/a b", false)],
    );
}

#[test]
fn health_probe_interval_and_count_annotations() {
    let svc = annotated(
        annotated(service("web", 1, &[(80, 30080)]), a::PROBE_INTERVAL, "10"),
        a::PROBE_COUNT,
        "3",
    );
    let (state, _) = run(&[svc]);
    let p = probe_of(&state, 80).unwrap();
    assert_eq!((p.interval_seconds, p.threshold), (10, 3));
    check_values(
        a::PROBE_INTERVAL,
        &[("5", true), ("4", false), ("x", false), ("60", false)],
    );
    check_values(a::PROBE_COUNT, &[("2", true), ("1", false), ("-2", false)]);
}

#[test]
fn per_port_probe_annotations() {
    let port = |suffix: &str| format!("{}port_80_{suffix}", a::PREFIX);
    let base = service("web", 1, &[(80, 30080), (443, 30443)]);
    let svc = annotated(
        annotated(base.clone(), &port("health-probe_protocol"), "Http"),
        &port("health-probe_request-path"),
        "/live",
    );
    let svc = annotated(
        annotated(svc, a::PROBE_PROTOCOL, "Tcp"),
        &port("health-probe_port"),
        "p443",
    );
    let (state, _) = run(&[svc]);
    let p80 = probe_of(&state, 80).unwrap();
    assert_eq!(
        (p80.protocol, p80.port, p80.path.as_deref()),
        (ProbeProtocol::Http, 30443, Some("/live")),
        "named port → its node port"
    );
    assert_eq!(
        probe_of(&state, 443).unwrap().protocol,
        ProbeProtocol::Tcp,
        "per-port override only"
    );

    let (state, _) = run(&[annotated(base.clone(), &port("health-probe_port"), "10256")]);
    assert_eq!(
        probe_of(&state, 80).unwrap().port,
        10256,
        "other numbers are used as is"
    );
    let (state, _) = run(&[annotated(base.clone(), &port("no_probe_rule"), "true")]);
    assert!(
        public_lb(&state)
            .rules
            .iter()
            .any(|r| r.frontend_port == 80 && r.probe.is_none())
    );
    let (state, _) = run(&[annotated(base.clone(), &port("no_lb_rule"), "true")]);
    assert!(
        !public_lb(&state)
            .rules
            .iter()
            .any(|r| r.frontend_port == 80)
    );
    assert!(
        public_lb(&state)
            .rules
            .iter()
            .any(|r| r.frontend_port == 443)
    );

    check_values(
        &port("health-probe_port"),
        &[("nosuchport", false), ("70000", false)],
    );
    check_values(
        &port("health-probe_interval"),
        &[("10", true), ("3", false)],
    );
    check_values(
        &format!("{}port_0_no_lb_rule", a::PREFIX),
        &[("true", false)],
    );
}

#[test]
fn tcp_idle_timeout_annotation() {
    let (state, _) = run(&[annotated(
        service("web", 1, &[(80, 30080)]),
        a::IDLE_TIMEOUT,
        "30",
    )]);
    assert!(
        public_lb(&state)
            .rules
            .iter()
            .any(|r| r.frontend_port == 80 && r.idle_timeout_minutes == 30)
    );
    check_values(
        a::IDLE_TIMEOUT,
        &[
            ("4", true),
            ("100", true),
            ("3", false),
            ("101", false),
            ("ten", false),
        ],
    );
}

#[test]
fn disable_tcp_reset_annotation() {
    let (state, _) = run(&[annotated(
        service("web", 1, &[(80, 30080)]),
        a::DISABLE_TCP_RESET,
        "true",
    )]);
    assert!(
        public_lb(&state)
            .rules
            .iter()
            .any(|r| r.frontend_port == 80 && !r.tcp_reset)
    );
}

#[test]
fn disable_floating_ip_annotation() {
    let svc = annotated(
        service("web", 1, &[(80, 30080)]),
        a::DISABLE_FLOATING_IP,
        "true",
    );
    let (state, _) = run(std::slice::from_ref(&svc));
    let r = public_lb(&state)
        .rules
        .iter()
        .find(|r| r.frontend_port == 80)
        .unwrap();
    assert!(!r.floating_ip);
    assert_eq!(r.backend_port, 30080);
    let nsg = service_rules(&state, "web");
    assert_eq!(
        nsg[0].destinations,
        vec!["10.224.0.0/16"],
        "the node subnet, not every node IP"
    );
    assert_eq!(nsg[0].destination_ports, vec!["30080"]);
    let no_node_ports = with(
        svc,
        json!({"spec": {"allocateLoadBalancerNodePorts": false, "ports": [{"name": "p80", "port": 80, "protocol": "TCP"}]}}),
    );
    let (_, d) = run(&[no_node_ports]);
    assert!(matches!(&rejected(&d, "web")[0].1, Problem::Unsupported(_)));
}

#[test]
fn external_traffic_policy_local() {
    let svc = with(
        service("web", 1, &[(80, 30080), (443, 30443)]),
        json!({"spec": {"externalTrafficPolicy": "Local", "healthCheckNodePort": 32000}}),
    );
    let (state, _) = run(&[svc]);
    for port in [80, 443] {
        let p = probe_of(&state, port).unwrap();
        assert_eq!(
            (p.protocol, p.port, p.path.as_deref()),
            (ProbeProtocol::Http, 32000, Some("/healthz"))
        );
    }
    let no_hc = with(
        service("web", 1, &[(80, 30080)]),
        json!({"spec": {"externalTrafficPolicy": "Local"}}),
    );
    assert_eq!(
        rejected(&run(&[no_hc]).1, "web")[0].0,
        "spec.healthCheckNodePort"
    );
}

#[test]
fn allocate_load_balancer_node_ports_false() {
    let no_np = json!({"spec": {"allocateLoadBalancerNodePorts": false, "ports": [{"name": "p80", "port": 80, "protocol": "TCP"}]}});
    let (_, d) = run(&[with(service("web", 1, &[]), no_np.clone())]);
    assert!(
        matches!(&rejected(&d, "web")[0].1, Problem::Unsupported(m) if m.contains("no node port"))
    );
    let local = with(
        with(service("web", 1, &[]), no_np),
        json!({"spec": {"externalTrafficPolicy": "Local", "healthCheckNodePort": 32000}}),
    );
    let (state, d) = run(&[local]);
    assert!(planned(&d, "web"));
    assert_eq!(probe_of(&state, 80).unwrap().port, 32000);
}

#[test]
fn session_affinity_client_ip() {
    let (state, _) = run(&[with(
        service("web", 1, &[(80, 30080)]),
        json!({"spec": {"sessionAffinity": "ClientIP"}}),
    )]);
    assert!(
        public_lb(&state)
            .rules
            .iter()
            .any(|r| r.frontend_port == 80 && r.distribution == Distribution::SourceIp)
    );
}

#[test]
fn ip_families_dual_stack() {
    let svc = with(
        service("web", 1, &[(80, 30080)]),
        json!({"spec": {"ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "RequireDualStack"}}),
    );
    let (state, d) = run(&[svc]);
    assert!(
        matches!(&d.services["default/web"], ServiceOutcome::Planned { ingress } if ingress.len() == 2)
    );
    let pips: Vec<_> = state
        .public_ips
        .iter()
        .filter(|p| p.tags.contains_key(TAG_SERVICE))
        .collect();
    assert_eq!(pips.len(), 2);
    let v6 = pips
        .iter()
        .find(|p| p.family == Family::V6)
        .expect("IPv6 PIP");
    assert!(v6.name.ends_with("-IPv6"));
    let lb = public_lb(&state);
    assert!(
        lb.rules
            .iter()
            .any(|r| r.name.ends_with("-TCP-80-IPv6") && r.backend_pool.ends_with("nodes-IPv6"))
    );
    let nsg = service_rules(&state, "web");
    assert_eq!(nsg.len(), 2, "one rule per family");
}

#[test]
fn source_ranges_and_allowed_ranges() {
    let ranges = with(
        service("web", 1, &[(80, 30080)]),
        json!({"spec": {"loadBalancerSourceRanges": ["10.0.0.0/8", "192.168.1.7"]}}),
    );
    let (state, _) = run(std::slice::from_ref(&ranges));
    assert_eq!(
        service_rules(&state, "web")[0].sources,
        vec!["10.0.0.0/8", "192.168.1.7/32"]
    );
    for key in [a::ALLOWED_IP_RANGES, a::SOURCE_RANGES] {
        let (state, _) = run(&[annotated(
            service("web", 1, &[(80, 30080)]),
            key,
            "1.2.3.0/24,5.6.7.8/32",
        )]);
        assert_eq!(
            service_rules(&state, "web")[0].sources,
            vec!["1.2.3.0/24", "5.6.7.8/32"]
        );
        check_values(
            key,
            &[("1.2.3.0/24", true), ("1.2.3.0/33", false), ("nope", false)],
        );
    }
    let both = annotated(ranges, a::ALLOWED_IP_RANGES, "1.2.3.0/24");
    assert!(matches!(
        &rejected(&run(&[both]).1, "web")[0].1,
        Problem::Conflict(_)
    ));
    let bad = with(
        service("web", 1, &[(80, 30080)]),
        json!({"spec": {"loadBalancerSourceRanges": ["x"]}}),
    );
    assert_eq!(
        rejected(&run(&[bad]).1, "web")[0].0,
        "spec.loadBalancerSourceRanges"
    );
}

#[test]
fn allowed_service_tags_annotation() {
    let (state, _) = run(&[annotated(
        service("web", 1, &[(80, 30080)]),
        a::ALLOWED_SERVICE_TAGS,
        "AzureFrontDoor.Backend,AzureCloud",
    )]);
    // Azure takes a service tag only alone in a rule: one rule per tag.
    let mut sources: Vec<Vec<String>> = service_rules(&state, "web")
        .iter()
        .map(|r| r.sources.clone())
        .collect();
    sources.sort();
    assert_eq!(
        sources,
        [vec!["AzureCloud"], vec!["AzureFrontDoor.Backend"]]
    );
    // With source ranges too: the ranges in one rule, each tag in its own.
    let (state, _) = run(&[with(
        annotated(
            service("web", 1, &[(80, 30080)]),
            a::ALLOWED_SERVICE_TAGS,
            "AzureFrontDoor.Backend",
        ),
        json!({"spec": {"loadBalancerSourceRanges": ["10.0.0.0/8", "192.168.0.0/16"]}}),
    )]);
    let mut sources: Vec<Vec<String>> = service_rules(&state, "web")
        .iter()
        .map(|r| r.sources.clone())
        .collect();
    sources.sort();
    assert_eq!(
        sources,
        [
            vec!["10.0.0.0/8".to_string(), "192.168.0.0/16".into()],
            vec!["AzureFrontDoor.Backend".into()]
        ]
    );
    check_values(
        a::ALLOWED_SERVICE_TAGS,
        &[("Internet", true), ("1bad", false), ("a b", false)],
    );
}

#[test]
fn shared_security_rule_annotation() {
    // Services of a namespace that admit the same ports from the same sources are packed into
    // one rule by default; "false" asks for rules of one's own.
    let one = service("one", 1, &[(80, 30080)]);
    let two = service("two", 2, &[(80, 30081)]);
    let own = annotated(
        service("own", 3, &[(80, 30082)]),
        a::SHARED_SECURITY_RULE,
        "false",
    );
    let other_port = service("other", 4, &[(443, 30443)]);
    let elsewhere = with(
        service("away", 5, &[(80, 30083)]),
        json!({"metadata": {"namespace": "team-b"}}),
    );
    let all = [one, two, own, other_port, elsewhere];
    let (state, _) = run(&all);
    let nsg = state.security_group.as_ref().unwrap();
    let packed: Vec<_> = nsg
        .rules
        .iter()
        .filter(|r| r.description.as_deref() == Some("aksnet: shared by 2 Services of default"))
        .collect();
    assert_eq!(packed.len(), 1, "{:#?}", nsg.rules);
    assert_eq!(
        packed[0].destinations.len(),
        2,
        "both frontends in one rule"
    );
    assert_eq!(service_rules(&state, "own").len(), 1, "a rule of its own");
    assert_eq!(
        service_rules(&state, "other").len(),
        1,
        "other ports, another rule"
    );
    assert!(
        nsg.rules
            .iter()
            .any(|r| r.description.as_deref() == Some("aksnet: team-b/away")),
        "another namespace's Service is never packed with these"
    );
    // A Service joining rewrites that rule alone; the others keep name, priority and all.
    let mut more = all.to_vec();
    more.push(service("three", 6, &[(80, 30084)]));
    let (joined, _) = run_on(state.clone(), &more);
    let after = joined.security_group.as_ref().expect("NSG");
    let changed: Vec<&str> = after
        .rules
        .iter()
        .filter(|r| !nsg.rules.contains(r))
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(changed, [packed[0].name.as_str()]);
    assert_eq!(after.rules.len(), nsg.rules.len());
    // A rejected member keeps its address in the rule, as Azure has it.
    let broken: Vec<Service> = all
        .iter()
        .map(|s| match s.metadata.name.as_deref() {
            Some("two") => annotated(s.clone(), a::IDLE_TIMEOUT, "9999"),
            _ => s.clone(),
        })
        .collect();
    let desired = plan_with(&network(), &broken, &nodes(3), &state);
    let kept = desired
        .security_group
        .as_ref()
        .and_then(|n| n.rules.iter().find(|r| r.name == packed[0].name))
        .expect("the packed rule stays");
    assert_eq!(kept.destinations, packed[0].destinations);
    // Emptied of working Services, a packed rule still keeps a rejected one's address.
    let only_broken: Vec<Service> = broken
        .iter()
        .filter(|s| s.metadata.name.as_deref() != Some("one"))
        .cloned()
        .collect();
    let desired = plan_with(&network(), &only_broken, &nodes(3), &state);
    let rules = &desired.security_group.as_ref().expect("NSG").rules;
    let two_ip = state
        .public_ips
        .iter()
        .find(|p| p.tags.get(TAG_SERVICE).map(String::as_str) == Some("default/two"))
        .and_then(|p| p.address.clone())
        .expect("two's address");
    assert!(
        rules
            .iter()
            .any(|r| r.name == packed[0].name && r.destinations == [two_ip.clone()]),
        "{rules:#?}"
    );
}

#[test]
fn high_availability_ports_annotation() {
    let ha = |name: &str, created: i64, ports: &[(u16, u16)]| {
        let svc = annotated(service(name, created, ports), a::INTERNAL, "true");
        annotated(svc, a::HA_PORTS, "true")
    };
    let (state, d) = run(&[ha("web", 1, &[(80, 30080), (443, 30443)])]);
    assert!(planned(&d, "web"), "{:?}", d.services);
    let ilb = internal_lb(&state).expect("internal LB");
    assert_eq!(
        ilb.rules.len(),
        1,
        "one rule for every port: {:?}",
        ilb.rules
    );
    let rule = &ilb.rules[0];
    assert_eq!(
        (rule.protocol, rule.frontend_port, rule.backend_port),
        (Protocol::All, 0, 0)
    );
    let probe = ilb
        .probes
        .iter()
        .find(|p| Some(&p.name) == rule.probe.as_ref());
    assert_eq!(probe.map(|p| p.port), Some(30080), "the first port's probe");
    // The NSG still admits the Service's ports, not every port.
    let mut ports: Vec<String> = service_rules(&state, "web")
        .iter()
        .flat_map(|r| r.destination_ports.clone())
        .collect();
    ports.sort();
    assert_eq!(ports, ["443", "80"]);
    // An HA ports rule takes its frontend whole: whichever comes second on a shared address
    // is refused, in either order.
    let at = |svc: Service| annotated(svc, a::IPV4, "10.224.0.200");
    let plain = || {
        at(annotated(
            service("plain", 2, &[(8080, 30808)]),
            a::INTERNAL,
            "true",
        ))
    };
    let (_, d) = run(&[plain(), at(ha("web", 1, &[(80, 30080)]))]);
    assert!(planned(&d, "web"));
    assert!(
        matches!(&rejected(&d, "plain")[0].1, Problem::PortClash { other, .. } if other == "default/web"),
        "{:?}",
        d.services
    );
    let (_, d) = run(&[at(ha("web", 3, &[(80, 30080)])), plain()]);
    assert!(planned(&d, "plain"));
    assert!(
        matches!(&rejected(&d, "web")[0].1, Problem::PortClash { other, .. } if other == "default/plain"),
        "{:?}",
        d.services
    );
    check_values_on(
        annotated(service("web", 1, &[(80, 30080)]), a::INTERNAL, "true"),
        a::HA_PORTS,
        &[("true", true), ("false", true), ("yes", false)],
    );
}

#[test]
fn pip_ip_tags_annotation() {
    let tagged = annotated(
        service("web", 1, &[(80, 30080)]),
        a::PIP_IP_TAGS,
        "RoutingPreference=Internet, FirstPartyUsage=/NonProd",
    );
    let (state, d) = run(&[tagged]);
    assert!(planned(&d, "web"));
    let pip = state
        .public_ips
        .iter()
        .find(|p| p.tags.contains_key(TAG_SERVICE))
        .expect("managed PIP");
    assert_eq!(
        pip.ip_tags,
        [
            ("FirstPartyUsage".to_string(), "/NonProd".to_string()),
            ("RoutingPreference".into(), "Internet".into())
        ]
    );
    // Azure sets IP tags only at creation: other tags are another public IP.
    let (plain, _) = run(&[service("web", 1, &[(80, 30080)])]);
    let plain_pip = plain
        .public_ips
        .iter()
        .find(|p| p.tags.contains_key(TAG_SERVICE))
        .expect("managed PIP");
    assert_ne!(plain_pip.name, pip.name);
    assert!(plain_pip.ip_tags.is_empty());
    check_values(
        a::PIP_IP_TAGS,
        &[
            ("RoutingPreference=Internet", true),
            ("RoutingPreference", false),
            (
                "RoutingPreference=Internet,routingpreference=Microsoft",
                false,
            ),
            ("=Internet", false),
            ("Routing Preference=x", false),
        ],
    );
}

#[test]
fn additional_public_ips_annotation() {
    let extra = annotated(
        service("web", 1, &[(80, 30080)]),
        a::ADDITIONAL_PUBLIC_IPS,
        "20.30.40.51, 20.30.40.50",
    );
    let (state, d) = run(&[extra]);
    assert!(planned(&d, "web"), "{:?}", d.services);
    let rules = service_rules(&state, "web");
    assert_eq!(rules.len(), 1);
    let frontend_ip = state
        .public_ips
        .iter()
        .find(|p| p.tags.contains_key(TAG_SERVICE))
        .and_then(|p| p.address.clone())
        .expect("address");
    let mut want = vec![frontend_ip, "20.30.40.50".into(), "20.30.40.51".into()];
    want.sort();
    assert_eq!(rules[0].destinations, want);
    // An address aksnet serves for someone else is not an "additional" address.
    let mut observed = observed_base();
    observed.public_ips.push(byo_ip("theirs", RG, "20.1.2.3"));
    let (_, d) = run_on(
        observed,
        &[annotated(
            service("web", 1, &[(80, 30080)]),
            a::ADDITIONAL_PUBLIC_IPS,
            "20.1.2.3",
        )],
    );
    let errs = rejected(&d, "web");
    assert!(
        matches!(&errs[0], (f, Problem::AddressNotAllowed(m)) if f == a::ADDITIONAL_PUBLIC_IPS && m.contains("theirs")),
        "{errs:?}"
    );
    check_values(
        a::ADDITIONAL_PUBLIC_IPS,
        &[
            ("20.30.40.50", true),
            ("20.30.40.50,", true),
            ("nope", false),
            ("20.30.40.0/24", false),
            ("2001:db8::1", false),
        ],
    );
}

#[test]
fn deny_all_except_load_balancer_source_ranges_annotation() {
    let guarded = annotated(
        with(
            service("web", 1, &[(80, 30080)]),
            json!({"spec": {"loadBalancerSourceRanges": ["10.0.0.0/8"]}}),
        ),
        a::DENY_ALL_EXCEPT_SOURCE_RANGES,
        "true",
    );
    let (state, d) = run(&[service("open", 2, &[(8080, 30808)]), guarded]);
    assert!(planned(&d, "web") && planned(&d, "open"));
    let nsg = state.security_group.as_ref().expect("NSG");
    let mine: Vec<_> = nsg
        .rules
        .iter()
        .filter(|r| {
            r.description
                .as_deref()
                .is_some_and(|d| d.contains("default/web"))
        })
        .collect();
    let allow = mine
        .iter()
        .find(|r| r.access == Access::Allow)
        .expect("allow");
    let deny = mine
        .iter()
        .find(|r| r.access == Access::Deny)
        .expect("deny");
    assert_eq!(allow.sources, ["10.0.0.0/8"]);
    assert_eq!(deny.sources, ["*"]);
    assert_eq!(deny.destinations, allow.destinations);
    assert_eq!(deny.destination_ports, ["80"]);
    assert!(
        deny.priority > allow.priority,
        "the deny rule comes after the allow rule: {} vs {}",
        deny.priority,
        allow.priority
    );
    // Other Services are untouched: one allow rule, no deny.
    let open = service_rules(&state, "open");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].access, Access::Allow);
    check_values(
        a::DENY_ALL_EXCEPT_SOURCE_RANGES,
        &[("true", true), ("false", true), ("1", false)],
    );
}

#[test]
fn disable_load_balancer_nsg_rule_annotation() {
    let quiet = annotated(
        service("web", 1, &[(80, 30080)]),
        a::DISABLE_NSG_RULE,
        "true",
    );
    let (state, d) = run(&[quiet]);
    assert!(planned(&d, "web"));
    assert!(service_rules(&state, "web").is_empty());
    assert_eq!(public_lb(&state).rules.len(), 1, "the Service is served");
    check_values(
        a::DISABLE_NSG_RULE,
        &[("true", true), ("false", true), ("no", false)],
    );
}

#[test]
fn shared_ip_and_port_clash() {
    let mut observed = observed_base();
    observed.public_ips.push(byo_ip("shared", RG, "20.1.2.3"));
    let one = annotated(service("one", 1, &[(80, 30080)]), a::PIP_NAME, "shared");
    let two = annotated(service("two", 2, &[(443, 30443)]), a::PIP_NAME, "shared");
    let clash = annotated(service("three", 3, &[(80, 30090)]), a::PIP_NAME, "shared");
    let (state, d) = run_on(observed.clone(), &[clash.clone(), two.clone(), one.clone()]);
    assert!(planned(&d, "one") && planned(&d, "two"));
    let lb = public_lb(&state);
    let shared_fe: Vec<_> = lb
        .frontends
        .iter()
        .filter(|f| f.name.contains("pip-shared"))
        .collect();
    assert_eq!(shared_fe.len(), 1, "one frontend for the shared IP");
    assert_eq!(
        lb.rules
            .iter()
            .filter(|r| r.frontend == shared_fe[0].name)
            .count(),
        2
    );
    let errs = rejected(&d, "three");
    assert!(
        matches!(&errs[0].1, Problem::PortClash { port: 80, other, .. } if other == "default/one"),
        "{errs:?}"
    );
    // The decision does not depend on input order.
    let (_, again) = run_on(observed, &[one, clash, two]);
    assert_eq!(again.services, d.services);
}

#[test]
fn load_balancer_class_type_and_deletion() {
    let other = with(
        service("other", 1, &[(80, 30080)]),
        json!({"spec": {"loadBalancerClass": "metallb.io/metallb"}}),
    );
    let ours = with(
        service("ours", 2, &[(81, 30081)]),
        json!({"spec": {"loadBalancerClass": CLASS}}),
    );
    let cluster_ip = with(
        service("cip", 3, &[(82, 30082)]),
        json!({"spec": {"type": "ClusterIP"}}),
    );
    let deleting = with(
        service("gone", 4, &[(83, 30083)]),
        json!({"metadata": {"deletionTimestamp": "2026-01-02T00:00:00Z", "finalizers": ["x"]}}),
    );
    let (state, d) = run(&[other.clone(), ours, cluster_ip, deleting]);
    assert!(planned(&d, "ours"));
    for n in ["cip", "gone"] {
        assert_eq!(
            d.services[&format!("default/{n}")],
            ServiceOutcome::Released,
            "{n}"
        );
    }
    // Another class's Service that aksnet never served is another controller's: no outcome,
    // so its finalizers (which may carry the same name) are never touched.
    assert!(
        !d.services.contains_key("default/other"),
        "{:?}",
        d.services
    );
    // Once served (objects in Azure) and then moved to another class, it is released.
    let (served, _) = run(&[service("other", 1, &[(80, 30080)])]);
    let moved = plan_with(&network(), std::slice::from_ref(&other), &nodes(3), &served);
    assert_eq!(moved.services["default/other"], ServiceOutcome::Released);
    let (after, _) = run_on(served, &[other]);
    assert!(
        after
            .public_ips
            .iter()
            .all(|p| !p.tags.contains_key(TAG_SERVICE)),
        "its objects are gone"
    );
    assert_eq!(public_lb(&state).rules.len(), 1);
}

#[test]
fn udp_and_sctp_ports() {
    let udp = with(
        service("dns", 1, &[]),
        json!({"spec": {"ports": [{"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053}]}}),
    );
    let (state, _) = run(&[udp]);
    let r = public_lb(&state)
        .rules
        .iter()
        .find(|r| r.frontend_port == 53)
        .unwrap();
    assert_eq!(r.protocol, Protocol::Udp);
    assert!(
        r.probe.is_none() && !r.tcp_reset,
        "UDP: no probe, no TCP reset"
    );
    assert_eq!(service_rules(&state, "dns")[0].protocol, "Udp");
    let sctp = with(
        service("s", 1, &[]),
        json!({"spec": {"ports": [{"name": "s", "port": 9999, "protocol": "SCTP", "nodePort": 30999}]}}),
    );
    assert!(matches!(
        &rejected(&run(std::slice::from_ref(&sctp)).1, "s")[0].1,
        Problem::Unsupported(_)
    ));
    let (state, d) = run(&[annotated(sctp, a::INTERNAL, "true")]);
    assert!(planned(&d, "s"));
    assert_eq!(
        internal_lb(&state).unwrap().rules[0].protocol,
        Protocol::All
    );
}

#[test]
fn rejected_service_keeps_what_it_has() {
    let good = service("web", 1, &[(80, 30080)]);
    let (state, _) = run(std::slice::from_ref(&good));
    let before = state.clone();
    let broken = annotated(good, a::IDLE_TIMEOUT, "9999");
    let desired = plan_with(&network(), &[broken], &nodes(3), &state);
    assert!(
        matches!(&desired.services["default/web"], ServiceOutcome::Rejected { errors } if errors[0].field == a::IDLE_TIMEOUT)
    );
    let ops = aksnet_core::diff::diff(&desired, &state);
    assert!(
        ops.is_empty(),
        "a typo never tears a working Service down: {ops:#?}"
    );
    assert_eq!(state, before);
}

#[test]
fn bad_service_does_not_affect_others() {
    let good = service("good", 2, &[(80, 30080)]);
    let bad = annotated(
        service("bad", 1, &[(81, 30081)]),
        a::PROBE_PROTOCOL,
        "bogus",
    );
    let (state, d) = run(&[bad, good]);
    assert!(planned(&d, "good"));
    assert_eq!(rejected(&d, "bad").len(), 1);
    assert_eq!(
        public_lb(&state)
            .rules
            .iter()
            .filter(|r| r.frontend_port == 80)
            .count(),
        1
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let svc = annotated(
        annotated(service("web", 1, &[(80, 30080)]), a::IDLE_TIMEOUT, "1"),
        a::PROBE_COUNT,
        "0",
    );
    let errs = rejected(&run(&[svc]).1, "web");
    let fields: Vec<_> = errs.iter().map(|(f, _)| f.as_str()).collect();
    assert!(
        fields.contains(&a::IDLE_TIMEOUT) && fields.contains(&a::PROBE_COUNT),
        "{fields:?}"
    );
}

/// Settings that the plan used to drop without a word: each now rejects the Service with the
/// setting named and the kind of problem.
#[test]
fn settings_are_never_silently_dropped() {
    let web = || service("web", 1, &[(80, 30080)]);
    let internal = || annotated(web(), a::INTERNAL, "true");
    let dual = || with(web(), json!({"spec": {"ipFamilies": ["IPv4", "IPv6"]}}));
    let mut observed = observed_base();
    observed.public_ips.push(byo_ip("byo", RG, "20.1.2.3"));
    type Check = fn(&Problem) -> bool;
    let invalid: Check = |p| matches!(p, Problem::InvalidValue(_));
    let conflict: Check = |p| matches!(p, Problem::Conflict(_));
    let cases: Vec<(&str, Service, &str, Check)> = vec![
        (
            "internal: maybe",
            annotated(web(), a::INTERNAL, "maybe"),
            a::INTERNAL,
            invalid,
        ),
        (
            "internal with a public IP name",
            annotated(internal(), a::PIP_NAME, "byo"),
            a::PIP_NAME,
            conflict,
        ),
        (
            "internal with a DNS label",
            annotated(internal(), a::DNS_LABEL, "web"),
            a::DNS_LABEL,
            conflict,
        ),
        (
            "internal with public IP tags",
            annotated(internal(), a::PIP_TAGS, "a=b"),
            a::PIP_TAGS,
            conflict,
        ),
        (
            "internal with a resource group",
            annotated(internal(), a::RESOURCE_GROUP, RG),
            a::RESOURCE_GROUP,
            conflict,
        ),
        (
            "public with an internal subnet",
            annotated(web(), a::INTERNAL_SUBNET, "aks-subnet"),
            a::INTERNAL_SUBNET,
            conflict,
        ),
        (
            "IPv6 loadBalancerIP on an IPv4 Service",
            with(web(), json!({"spec": {"loadBalancerIP": "2001:db8::1"}})),
            "spec.loadBalancerIP",
            conflict,
        ),
        (
            "IPv6 address annotation on an IPv4 Service",
            annotated(web(), a::IPV6, "2001:db8::1"),
            a::IPV6,
            conflict,
        ),
        (
            "IPv6 public IP name on an IPv4 Service",
            annotated(web(), a::PIP_NAME_IPV6, "byo6"),
            a::PIP_NAME_IPV6,
            conflict,
        ),
        (
            "loadBalancerIP differing from the ipv4 annotation",
            with(
                annotated(web(), a::IPV4, "20.1.2.3"),
                json!({"spec": {"loadBalancerIP": "20.1.2.4"}}),
            ),
            "spec.loadBalancerIP",
            conflict,
        ),
        (
            "per-port annotation for a port the Service lacks",
            annotated(
                web(),
                "service.beta.kubernetes.io/port_81_health-probe_protocol",
                "Http",
            ),
            "service.beta.kubernetes.io/port_81_health-probe_protocol",
            invalid,
        ),
        (
            "no rule left",
            annotated(
                web(),
                "service.beta.kubernetes.io/port_80_no_lb_rule",
                "true",
            ),
            "service.beta.kubernetes.io/port_80_no_lb_rule",
            invalid,
        ),
        (
            "source ranges of the other family only",
            with(
                web(),
                json!({"spec": {"loadBalancerSourceRanges": ["fd00::/8"]}}),
            ),
            "spec.loadBalancerSourceRanges",
            conflict,
        ),
        (
            "dual-stack with IPv4 allowed ranges only",
            annotated(dual(), a::ALLOWED_IP_RANGES, "10.0.0.0/8"),
            a::ALLOWED_IP_RANGES,
            conflict,
        ),
        (
            "public IP name with a DNS label",
            annotated(annotated(web(), a::PIP_NAME, "byo"), a::DNS_LABEL, "web"),
            a::DNS_LABEL,
            conflict,
        ),
        (
            "public IP name with a prefix",
            annotated(
                annotated(web(), a::PIP_NAME, "byo"),
                a::PIP_PREFIX,
                &format!(
                    "/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/publicIPPrefixes/p"
                ),
            ),
            a::PIP_PREFIX,
            conflict,
        ),
        (
            "public address with public IP tags",
            annotated(annotated(web(), a::IPV4, "20.1.2.3"), a::PIP_TAGS, "a=b"),
            a::PIP_TAGS,
            conflict,
        ),
        (
            "resource group for a created public IP",
            annotated(web(), a::RESOURCE_GROUP, RG),
            a::RESOURCE_GROUP,
            conflict,
        ),
        (
            "high-availability ports on a public Service",
            annotated(web(), a::HA_PORTS, "true"),
            a::HA_PORTS,
            conflict,
        ),
        (
            "internal with public IP tags",
            annotated(internal(), a::PIP_IP_TAGS, "RoutingPreference=Internet"),
            a::PIP_IP_TAGS,
            conflict,
        ),
        (
            "public IP tags on a named public IP",
            annotated(
                annotated(web(), a::PIP_NAME, "byo"),
                a::PIP_IP_TAGS,
                "RoutingPreference=Internet",
            ),
            a::PIP_IP_TAGS,
            conflict,
        ),
        (
            "an additional address of a family the Service lacks",
            annotated(web(), a::ADDITIONAL_PUBLIC_IPS, "2001:db8::1"),
            a::ADDITIONAL_PUBLIC_IPS,
            conflict,
        ),
        (
            "additional addresses with the NSG rules off",
            annotated(
                annotated(web(), a::DISABLE_NSG_RULE, "true"),
                a::ADDITIONAL_PUBLIC_IPS,
                "20.30.40.50",
            ),
            a::ADDITIONAL_PUBLIC_IPS,
            conflict,
        ),
        (
            "a deny rule with the NSG rules off",
            annotated(
                annotated(web(), a::DISABLE_NSG_RULE, "true"),
                a::DENY_ALL_EXCEPT_SOURCE_RANGES,
                "true",
            ),
            a::DENY_ALL_EXCEPT_SOURCE_RANGES,
            conflict,
        ),
        (
            "high-availability ports with a port left out",
            annotated(
                annotated(
                    annotated(
                        service("web", 1, &[(80, 30080), (81, 30081)]),
                        a::INTERNAL,
                        "true",
                    ),
                    a::HA_PORTS,
                    "true",
                ),
                "service.beta.kubernetes.io/port_81_no_lb_rule",
                "true",
            ),
            "service.beta.kubernetes.io/port_81_no_lb_rule",
            conflict,
        ),
        (
            "a boolean that is neither true nor false",
            annotated(web(), a::DISABLE_TCP_RESET, "yes"),
            a::DISABLE_TCP_RESET,
            invalid,
        ),
        (
            "no_lb_rule that is neither true nor false",
            annotated(web(), "service.beta.kubernetes.io/port_80_no_lb_rule", "1"),
            "service.beta.kubernetes.io/port_80_no_lb_rule",
            invalid,
        ),
    ];
    let mut failures = Vec::new();
    for (what, svc, field, kind) in cases {
        let (_, d) = run_on(observed.clone(), &[svc]);
        match d.services.get("default/web") {
            Some(ServiceOutcome::Rejected { errors })
                if errors.iter().any(|e| e.field == field && kind(&e.problem)) => {}
            other => failures.push(format!(
                "{what}: expected {field} to be refused, got {other:?}"
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The DNS label of an IPv6-only Service goes to its IPv6 public IP.
    let v6 = annotated(
        with(web(), json!({"spec": {"ipFamilies": ["IPv6"]}})),
        a::DNS_LABEL,
        "web6",
    );
    let (state, d) = run(&[v6]);
    assert!(planned(&d, "web"));
    assert!(
        state
            .public_ips
            .iter()
            .any(|p| p.family == Family::V6 && p.dns_label.as_deref() == Some("web6"))
    );
}
