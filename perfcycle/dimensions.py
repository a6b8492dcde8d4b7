"""The key evaluation's four 一级指标: the columns of its score sheet and what a year's policy weighs.

A value of its own, so that reading a workbook needs neither the policy nor pydantic (a reading process starts
on a stage's clock)."""

FISCAL_DIMENSIONS = ("决策", "过程", "产出", "效益")
