//! Reading and writing every float parameter of a module in traversal order: used for the
//! seeded initialisation and for saving/loading models.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{Tensor, TensorData};
use rand::{RngExt, SeedableRng, rngs::StdRng};

/// Shapes and values of every float parameter, in the module's traversal order.
pub(crate) fn collect<M: Module>(module: &M) -> Vec<(Vec<usize>, Vec<f32>)> {
    struct Collect(Vec<(Vec<usize>, Vec<f32>)>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let t = param.val();
            let shape = t.dims().to_vec();
            // A read failure would mean the backend is broken; record an empty tensor, which
            // `load` then rejects as a shape mismatch rather than panicking here.
            let values = t.into_data().try_to_vec::<f32>().unwrap_or_default();
            self.0.push((shape, values));
        }
    }
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0
}

/// Replaces every float parameter, in traversal order, by `values` (shapes must match).
/// Returns the module and an error message for the first mismatch.
pub(crate) fn load<M: Module>(
    module: M,
    values: Vec<(Vec<usize>, Vec<f32>)>,
) -> (M, Option<String>) {
    struct Load {
        values: std::vec::IntoIter<(Vec<usize>, Vec<f32>)>,
        index: usize,
        error: Option<String>,
    }
    impl ModuleMapper for Load {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            let index = self.index;
            self.index += 1;
            let Some((shape, data)) = self.values.next() else {
                self.error.get_or_insert_with(|| {
                    format!("file has fewer tensors than the model (stops at {index})")
                });
                return param;
            };
            param.map(|t| {
                let dims = t.dims().to_vec();
                let n: usize = dims.iter().product();
                if shape != dims || data.len() != n {
                    self.error.get_or_insert_with(|| {
                        format!("tensor {index}: file has shape {shape:?} ({} values), model expects {dims:?}", data.len())
                    });
                    return t;
                }
                let rg = t.is_require_grad();
                let device = t.device();
                Tensor::<D>::from_data(TensorData::new(data, dims), &device).set_require_grad(rg)
            })
        }
    }
    let mut l = Load {
        values: values.into_iter(),
        index: 0,
        error: None,
    };
    let module = module.map(&mut l);
    if l.error.is_none() && l.values.next().is_some() {
        l.error = Some("file has more tensors than the model".into());
    }
    (module, l.error)
}

/// Seeded initialisation, independent of the backend's global RNG: rank-2 tensors (linear
/// weights, embedding tables) Xavier-uniform `U(±√(6/(fan_in + fan_out)))`, others (biases) 0.
pub(crate) fn init_seeded<M: Module>(module: M, seed: u64) -> M {
    let mut rng = StdRng::seed_from_u64(seed);
    let shapes: Vec<Vec<usize>> = collect_shapes(&module);
    let values = shapes
        .into_iter()
        .map(|shape| {
            let n: usize = shape.iter().product();
            let values = if shape.len() == 2 {
                let bound = (6.0 / (shape[0] + shape[1]) as f64).sqrt();
                (0..n)
                    .map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
                    .collect()
            } else {
                vec![0.0; n]
            };
            (shape, values)
        })
        .collect();
    load(module, values).0
}

fn collect_shapes<M: Module>(module: &M) -> Vec<Vec<usize>> {
    struct Shapes(Vec<Vec<usize>>);
    impl ModuleVisitor for Shapes {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.0.push(param.val().dims().to_vec());
        }
    }
    let mut s = Shapes(Vec::new());
    module.visit(&mut s);
    s.0
}
