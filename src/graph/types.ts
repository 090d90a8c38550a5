// Element types, dims and the typed arrays that hold constant and parameter values.

/** Element type of a tensor. 'float' is float32, 'double' float64, 'bool' is stored as one byte per element. */
export type DType = 'float' | 'double' | 'int64' | 'int32' | 'bool';

/** A dim is a static size or a symbolic one: a name ('N') or a product of names and a coefficient ('2*N'). */
export type Dim = number | string;
export type Shape = readonly Dim[];

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = { float: 1, int32: 6, int64: 7, bool: 9, double: 11 };
export const DTYPE_OF_ONNX: Record<number, DType> = { 1: 'float', 6: 'int32', 7: 'int64', 9: 'bool', 11: 'double' };

export type TypedArray = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

/** Values accepted for constants: a number, a list of numbers (or bigints for int64) or a typed array. */
export type ConstValues = number | bigint | boolean | readonly number[] | readonly bigint[] | readonly boolean[] | TypedArray;

export const isFloat = (d: DType): boolean => d === 'float' || d === 'double';

/** Converts constant values to the typed array ONNX stores for `dtype`. */
export function toTypedArray(values: ConstValues, dtype: DType): TypedArray {
  const list: readonly (number | bigint | boolean)[] =
    typeof values === 'number' || typeof values === 'bigint' || typeof values === 'boolean'
      ? [values]
      : (Array.from(values as ArrayLike<number | bigint | boolean>) as (number | bigint | boolean)[]);
  switch (dtype) {
    case 'float':
      return values instanceof Float32Array ? values : Float32Array.from(list, Number);
    case 'double':
      return values instanceof Float64Array ? values : Float64Array.from(list, Number);
    case 'int64':
      return values instanceof BigInt64Array ? values : BigInt64Array.from(list, (v) => BigInt(typeof v === 'boolean' ? Number(v) : v));
    case 'int32':
      return values instanceof Int32Array ? values : Int32Array.from(list, Number);
    case 'bool':
      return values instanceof Uint8Array ? values : Uint8Array.from(list, (v) => (v ? 1 : 0));
  }
}
