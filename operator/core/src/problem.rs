//! Typed planning errors: each names the object, the field or annotation, and the reason.

/// Why an object was left out of the plan.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A value that cannot be used.
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// Two settings that cannot both hold.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The same (port, protocol) on a shared frontend IP as an older Service.
    #[error("port {port}/{protocol} on {frontend} is already used by {other}")]
    PortClash {
        /// Port number.
        port: u16,
        /// Protocol (`TCP`, `UDP`, `ALL`).
        protocol: &'static str,
        /// The shared frontend (IP or public IP name).
        frontend: String,
        /// The Service that holds the port (`namespace/name`).
        other: String,
    },
    /// An Azure limit would be exceeded.
    #[error("Azure limit: {what} would exceed {limit}")]
    Limit {
        /// What is counted.
        what: String,
        /// The limit.
        limit: usize,
    },
    /// A resource it refers to is missing in Azure.
    #[error("not found: {0}")]
    NotFound(String),
    /// A feature that this combination of settings cannot have.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An address (public IP or static private address) the Service may not use: another
    /// namespace's, the cluster's own, another cluster's, or a spec IP that does not admit
    /// the Service's namespace.
    #[error("address not allowed: {0}")]
    AddressNotAllowed(String),
    /// A resource group the AksNetwork does not list (`spec.azure.publicIpResourceGroups`).
    #[error("resource group not allowed: {0}")]
    ResourceGroupNotAllowed(String),
    /// Azure refused a write that carried this Service's objects.
    #[error("Azure refused {}: {}: {}", .0.resource, .0.code, .0.message)]
    AzureRefused(Box<ArmRefusal>),
}

/// What ARM answered when it refused a write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArmRefusal {
    /// ARM's error code (e.g. `DnsRecordInUse`).
    pub code: String,
    /// ARM's message.
    pub message: String,
    /// The ARM id of the resource written.
    pub resource: String,
}

impl Problem {
    /// CamelCase reason for Events and conditions: ARM's own code when Azure refused.
    pub fn reason(&self) -> &str {
        match self {
            Problem::InvalidValue(_) => "InvalidValue",
            Problem::Conflict(_) => "ConflictingSettings",
            Problem::PortClash { .. } => "PortInUse",
            Problem::Limit { .. } => "AzureLimitReached",
            Problem::NotFound(_) => "AzureResourceNotFound",
            Problem::Unsupported(_) => "Unsupported",
            Problem::AddressNotAllowed(_) => "AddressNotAllowed",
            Problem::ResourceGroupNotAllowed(_) => "ResourceGroupNotAllowed",
            Problem::AzureRefused(r) if !r.code.is_empty() => &r.code,
            Problem::AzureRefused(_) => "AzureRefused",
        }
    }
}

/// A Service aksnet cannot serve as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("service {service}: {field}: {problem}")]
pub struct ServiceError {
    /// `namespace/name`.
    pub service: String,
    /// The annotation key or spec field at fault.
    pub field: String,
    /// What is wrong.
    pub problem: Problem,
}

impl ServiceError {
    /// An error about one field of one Service. Cold: the plan's hot path is a Service
    /// without errors, and code that builds one is then laid out of that path's way.
    #[cold]
    pub fn new(service: &str, field: &str, problem: Problem) -> Self {
        Self {
            service: service.to_string(),
            field: field.to_string(),
            problem,
        }
    }
}

/// A problem with something other than a Service: a node, a spec entry, a whole resource.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {problem}")]
pub struct ObjectError {
    /// What it is about, e.g. `node aks-np-0`, `spec.routeTable.routes[egress]`.
    pub object: String,
    /// What is wrong.
    pub problem: Problem,
}
