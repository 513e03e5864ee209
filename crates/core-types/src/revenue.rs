//! The validated expected-revenue matrix E (customers × funds).

use ndarray::{Array2, ArrayView2};

use crate::{CoreError, Empty, NonFinite, Position, Real, Result, ShapeMismatch};

/// Expected revenue `E[u, f]` of showing fund `f` to customer `u`: a U×F matrix whose entries
/// are finite and non-negative, stored row-major (each customer's F values are contiguous).
///
/// It is the hand-off between revenue models and allocators. `T` is `f64` by default; `f32`
/// halves the memory of very large instances (10 M customers × 8 funds = 320 MB).
///
/// ```
/// use fundalloc_core_types::RevenueMatrix;
/// let e = RevenueMatrix::from_shape_vec(2, 3, vec![1.0, 0.5, 0.0, 2.0, 0.1, 0.3])?;
/// assert_eq!((e.n_customers(), e.n_funds()), (2, 3));
/// assert_eq!(e.row(1), &[2.0, 0.1, 0.3]);
/// assert!(RevenueMatrix::from_shape_vec(1, 2, vec![1.0, f64::NAN]).is_err());
/// # Ok::<(), fundalloc_core_types::CoreError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RevenueMatrix<T: Real = f64> {
    values: Array2<T>,
}

impl<T: Real> RevenueMatrix<T> {
    /// Validates `values` (at least one customer and one fund, finite, non-negative) and makes
    /// it row-major if it is not.
    pub fn new(values: Array2<T>) -> Result<Self> {
        let (rows, cols) = values.dim();
        if rows == 0 {
            return Err(Empty::new("revenue matrix (customers)").into());
        }
        if cols == 0 {
            return Err(Empty::new("revenue matrix (funds)").into());
        }
        let values = if values.is_standard_layout() {
            values
        } else {
            values.as_standard_layout().into_owned()
        };
        validate_entries(&values)?;
        Ok(Self { values })
    }

    /// Builds from a row-major vector of `customers × funds` values.
    pub fn from_shape_vec(customers: usize, funds: usize, values: Vec<T>) -> Result<Self> {
        let found = values.len();
        let array = Array2::from_shape_vec((customers, funds), values).map_err(|_| {
            CoreError::from(ShapeMismatch::new(
                "revenue values",
                format_args!("{customers} × {funds} = {} values", customers * funds),
                format_args!("{found} values"),
            ))
        })?;
        Self::new(array)
    }

    /// Number of customers U (rows).
    pub fn n_customers(&self) -> usize {
        self.values.nrows()
    }

    /// Number of funds F (columns).
    pub fn n_funds(&self) -> usize {
        self.values.ncols()
    }

    /// `E[customer, fund]`, or `None` out of range.
    pub fn get(&self, customer: usize, fund: usize) -> Option<T> {
        self.values.get((customer, fund)).copied()
    }

    /// The F revenues of one customer.
    ///
    /// # Panics
    /// If `customer >= n_customers()` (like slice indexing).
    pub fn row(&self, customer: usize) -> &[T] {
        let f = self.n_funds();
        &self.as_slice()[customer * f..(customer + 1) * f]
    }

    /// All values, row-major.
    pub fn as_slice(&self) -> &[T] {
        // Invariant: `new` stores a standard-layout array, whose slice always exists.
        self.values.as_slice().unwrap_or(&[])
    }

    /// A read-only ndarray view.
    pub fn view(&self) -> ArrayView2<'_, T> {
        self.values.view()
    }

    /// The underlying array.
    pub fn into_inner(self) -> Array2<T> {
        self.values
    }
}

impl RevenueMatrix<f32> {
    /// Widens to `f64` (exact).
    pub fn to_f64(&self) -> RevenueMatrix<f64> {
        RevenueMatrix {
            values: self.values.mapv(f64::from),
        }
    }
}

#[cfg(feature = "serde")]
impl<'de, T: Real + serde::Deserialize<'de>> serde::Deserialize<'de> for RevenueMatrix<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Raw<T> {
            values: Array2<T>,
        }
        let raw = Raw::<T>::deserialize(deserializer)?;
        Self::new(raw.values).map_err(serde::de::Error::custom)
    }
}

fn validate_entries<T: Real>(values: &Array2<T>) -> Result<()> {
    let zero = T::zero();
    // One fast pass; the slow search for the position runs only when something is wrong.
    let all_ok = values.iter().all(|&v| v.is_finite() && v >= zero);
    if all_ok {
        return Ok(());
    }
    for ((row, col), &v) in values.indexed_iter() {
        if !v.is_finite() {
            return Err(NonFinite::at_cell("revenue matrix", row, col, v.to_f64_lossless()).into());
        }
        if v < zero {
            return Err(CoreError::Negative {
                what: "revenue matrix",
                at: Position::Cell { row, col },
                value: v.to_f64_lossless(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn rejects_bad_entries_with_their_position() {
        let err = RevenueMatrix::new(array![[1.0, 2.0], [3.0, f64::INFINITY]]).unwrap_err();
        assert!(
            matches!(err, CoreError::NonFinite(ref e) if e.at == Position::Cell { row: 1, col: 1 })
        );
        let err = RevenueMatrix::new(array![[1.0f32, -0.5]]).unwrap_err();
        assert!(
            matches!(err, CoreError::Negative { at: Position::Cell { row: 0, col: 1 }, value, .. } if value == -0.5)
        );
        let err = RevenueMatrix::<f64>::new(Array2::zeros((0, 3))).unwrap_err();
        assert!(matches!(err, CoreError::Empty(_)));
        let err = RevenueMatrix::from_shape_vec(2, 2, vec![1.0; 3]).unwrap_err();
        assert!(matches!(err, CoreError::ShapeMismatch(_)));
    }

    #[test]
    fn column_major_input_is_stored_row_major() {
        let a = array![[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
        let m = RevenueMatrix::new(a.t().to_owned().reversed_axes()).unwrap();
        assert_eq!(m.row(0), &[1.0, 2.0, 3.0]);
        let t = RevenueMatrix::new(a.clone().reversed_axes()).unwrap();
        assert_eq!(t.row(2), &[3.0, 6.0]);
        assert_eq!(t.get(2, 1), Some(6.0));
        assert_eq!(t.get(3, 0), None);
    }

    #[test]
    fn f32_widens_exactly() {
        let m = RevenueMatrix::from_shape_vec(1, 2, vec![0.1f32, 3.0]).unwrap();
        assert_eq!(m.to_f64().row(0), &[f64::from(0.1f32), 3.0]);
    }
}
