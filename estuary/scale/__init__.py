"""Scale-out on existing engines: batch scoring on Spark (`estuary.scale.spark`).

`estuary.columnar.ColumnarEncoder` turns columns (pandas, Arrow) into an artifact's input
matrix by its schema without per-row dicts; `estuary.scale.spark` runs it in Spark's Python
workers;
`estuary.scale.spark_sql` compiles a store version's IR to Spark SQL expressions instead (no
Python worker).
"""
