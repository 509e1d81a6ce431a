//! The route table: the AksNetwork's user-defined routes and, for kubenet, a route per node
//! pod CIDR, within the table's route limit (counting routes that are not ours).

use std::collections::HashMap;

use aksnet_crds::NetworkModel;
use k8s_openapi::api::core::v1::Node;

use super::{Context, nodes};
use crate::model::{Route, RouteTable};
use crate::problem::{ObjectError, Problem};

/// The route table with our routes, and the nodes or routes left out.
pub(crate) fn plan(ctx: &Context<'_>, nodes: &[&Node]) -> (Option<RouteTable>, Vec<ObjectError>) {
    let network = ctx.input.network;
    let Some(spec) = &network.route_table else {
        return (None, Vec::new());
    };
    let limit = ctx.input.limits.routes_per_table;
    let foreign = ctx.input.observed.route_table.as_ref().map_or(0, |t| {
        t.routes
            .iter()
            .filter(|r| !ctx.ownership.owns_child(&r.name))
            .count()
    });
    let mut errors = Vec::new();
    let mut routes: Vec<Route> = Vec::new();
    let room = |what: String, errors: &mut Vec<ObjectError>, count: usize| {
        let fits = foreign + count < limit + 1;
        if !fits {
            errors.push(ObjectError {
                object: what,
                problem: Problem::Limit {
                    what: format!("routes in route table {}", spec.name),
                    limit,
                },
            });
        }
        fits
    };
    for r in &spec.routes {
        if room(
            format!("spec.routeTable.routes[{}]", r.name),
            &mut errors,
            routes.len() + 1,
        ) {
            routes.push(Route {
                name: ctx.ownership.spec_child(&r.name),
                address_prefix: r.address_prefix.clone(),
                next_hop_type: format!("{:?}", r.next_hop_type),
                next_hop_ip: r.next_hop_ip_address.clone(),
            });
        }
    }
    // Prefix → the route that has it.
    let mut routed: HashMap<String, String> = routes
        .iter()
        .map(|r| (r.address_prefix.clone(), r.name.clone()))
        .collect();
    let sync =
        spec.sync_node_routes.unwrap_or(true) && network.network_model == NetworkModel::Kubenet;
    if sync {
        for node in nodes
            .iter()
            .filter(|n| n.metadata.deletion_timestamp.is_none())
        {
            let name = node.metadata.name.as_deref().unwrap_or_default();
            let (mut node_routes, problems) = nodes::pod_routes(node, &ctx.ownership);
            errors.extend(problems.into_iter().map(|p| ObjectError {
                object: format!("node {name}"),
                problem: Problem::InvalidValue(p),
            }));
            // Azure refuses a table with two routes for one prefix: a node whose pod CIDR is
            // routed already (a spec route, or a node before it by name) is left out.
            node_routes.retain(|r| match routed.get(&r.address_prefix) {
                Some(by) => {
                    errors.push(ObjectError {
                        object: format!("node {name}"),
                        problem: Problem::Conflict(format!(
                            "podCIDR {} is routed already by {by}",
                            r.address_prefix
                        )),
                    });
                    false
                }
                None => true,
            });
            if room(
                format!("node {name}"),
                &mut errors,
                routes.len() + node_routes.len(),
            ) {
                for r in &node_routes {
                    routed.insert(r.address_prefix.clone(), r.name.clone());
                }
                routes.extend(node_routes);
            }
        }
    }
    routes.sort_by_key(|r| crate::model::name_key(&r.name));
    routes.dedup_by(|a, b| crate::model::name_key(&a.name) == crate::model::name_key(&b.name));
    let table = RouteTable {
        name: spec.name.clone(),
        resource_group: ctx.resource_group().to_string(),
        location: ctx.location().to_string(),
        tags: ctx.ownership.tags(),
        routes,
        etag: None,
    };
    (Some(table), errors)
}
