//! Module parameters as host data: seeded initialisation, async export, validated import.
//!
//! Paths are the module field names joined by `.` (enum variant names left out), as burn-store writes them.
//! Export gathers every parameter in one async [`Transaction`], the only readback WebGPU allows in a page.
//! Initialisation draws from a host RNG, so a seed gives the same weights on every backend.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;
use burn::tensor::{TensorData, Transaction};
use rand::{RngExt, SeedableRng, rngs::StdRng};

use crate::error::{CvmError, Result};

/// Parameters by dotted path: shape and values.
pub type HostParams = HashMap<String, (Vec<usize>, Vec<f32>)>;

/// Tracks the dotted path of the parameter being visited.
#[derive(Default)]
struct PathStack {
    names: Vec<String>,
    containers: Vec<String>,
}

impl PathStack {
    fn enter(&mut self, name: &str, container: &str) {
        if !container.starts_with("Enum:") {
            self.names.push(name.to_string());
        }
        self.containers.push(container.to_string());
    }

    fn exit(&mut self, container: &str) {
        if !container.starts_with("Enum:") {
            self.names.pop();
        }
        self.containers.pop();
    }

    fn path(&self) -> String {
        self.names.join(".")
    }

    /// Type of the innermost struct holding the current parameter (e.g. `Conv2d`).
    fn container(&self) -> &str {
        self.containers.last().map(String::as_str).unwrap_or("")
    }
}

/// One exported parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct HostParam {
    pub path: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

struct Gather {
    stack: PathStack,
    paths: Vec<String>,
    transaction: Option<Transaction>,
}

impl ModuleVisitor for Gather {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.stack.exit(container_type);
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.paths.push(self.stack.path());
        let t = self.transaction.take().expect("transaction");
        self.transaction = Some(t.register(param.val()));
    }
}

/// Reads every float parameter of `module` back to the host in one async transaction.
pub async fn export<M: Module>(module: &M) -> Result<Vec<HostParam>> {
    let mut gather =
        Gather { stack: PathStack::default(), paths: Vec::new(), transaction: Some(Transaction::default()) };
    module.visit(&mut gather);
    let data = gather.transaction.take().expect("transaction").execute_async().await?;
    gather
        .paths
        .into_iter()
        .zip(data)
        .map(|(path, d)| {
            let shape = d.shape().to_vec();
            let values = d.convert::<f32>().try_to_vec::<f32>().map_err(|e| CvmError::Backend(format!("{e:?}")))?;
            Ok(HostParam { path, shape, values })
        })
        .collect()
}

/// Replaces parameters by path from host data; every parameter must be present with its exact shape.
struct Load<'a> {
    stack: PathStack,
    source: &'a HostParams,
    used: usize,
    error: Option<String>,
}

impl ModuleMapper for Load<'_> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.stack.exit(container_type);
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let path = self.stack.path();
        let expected = param.lazy_shape().to_vec();
        match self.source.get(&path) {
            None => {
                self.error.get_or_insert(format!("tensor `{path}` is missing (expected shape {expected:?})"));
                param
            }
            Some((shape, _)) if *shape != expected => {
                self.error.get_or_insert(format!("tensor `{path}` has shape {shape:?}, expected {expected:?}"));
                param
            }
            Some((shape, values)) => {
                self.used += 1;
                let device = param.lazy_device();
                let data = TensorData::new(values.clone(), shape.clone());
                param.map(|old| Tensor::from_data(data, &device).set_require_grad(old.is_require_grad()))
            }
        }
    }
}

/// Loads `params` (path → shape, values) into `module`. Errors name the first missing or mis-shaped tensor,
/// and tensors the module does not have.
pub fn import<M: Module>(module: M, params: &HostParams, what: &'static str) -> Result<M> {
    let mut load = Load { stack: PathStack::default(), source: params, used: 0, error: None };
    let module = module.map(&mut load);
    if let Some(err) = load.error {
        return Err(CvmError::blob(what, err));
    }
    if load.used != params.len() {
        let known = names(&module);
        let mut extra: Vec<&String> = params.keys().filter(|k| !known.contains(k)).collect();
        extra.sort();
        return Err(CvmError::blob(what, format!("unexpected tensors for this architecture: {extra:?}")));
    }
    Ok(module)
}

/// Parameter paths of a module.
pub fn names<M: Module>(module: &M) -> Vec<String> {
    struct Names(PathStack, Vec<String>);
    impl ModuleVisitor for Names {
        fn enter_module(&mut self, name: &str, container_type: &str) {
            self.0.enter(name, container_type);
        }
        fn exit_module(&mut self, _name: &str, container_type: &str) {
            self.0.exit(container_type);
        }
        fn visit_float<const D: usize>(&mut self, _param: &Param<Tensor<D>>) {
            self.1.push(self.0.path());
        }
    }
    let mut v = Names(PathStack::default(), Vec::new());
    module.visit(&mut v);
    v.1
}

/// Re-initialises conv and linear weights from a host RNG (He-uniform: `±sqrt(6 / fan_in)`), biases at zero.
struct SeededInit {
    stack: PathStack,
    rng: StdRng,
}

impl ModuleMapper for SeededInit {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, container_type: &str) {
        self.stack.exit(container_type);
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let container = self.stack.container();
        if container != "Struct:Conv2d" && container != "Struct:Linear" {
            return param;
        }
        let shape = param.lazy_shape().to_vec();
        let device = param.lazy_device();
        let n: usize = shape.iter().product();
        let is_weight = self.stack.names.last().map(String::as_str) == Some("weight");
        let values: Vec<f32> = if is_weight {
            // Conv2d weight [out, in, k, k]: fan-in = in·k·k. Linear weight (row layout) [in, out]: fan-in = in.
            let fan_in = if D == 4 { shape[1..].iter().product::<usize>() } else { shape[0] };
            let bound = (6.0 / fan_in as f32).sqrt();
            (0..n).map(|_| self.rng.random_range(-bound..bound)).collect()
        } else {
            vec![0.0; n]
        };
        param.map(|old| {
            Tensor::from_data(TensorData::new(values, shape), &device).set_require_grad(old.is_require_grad())
        })
    }
}

/// Deterministic, backend-independent initialisation of every conv and linear layer in `module`.
pub fn seeded_init<M: Module>(module: M, seed: u64) -> M {
    module.map(&mut SeededInit { stack: PathStack::default(), rng: StdRng::seed_from_u64(seed) })
}

/// Tensor data read back from a device, as host floats.
pub(crate) fn to_f32(data: TensorData) -> Result<Vec<f32>> {
    data.convert::<f32>().try_to_vec::<f32>().map_err(|e| CvmError::Backend(format!("{e:?}")))
}
