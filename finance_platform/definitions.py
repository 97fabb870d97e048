"""The code location: merges each domain's definitions with the environment's resources."""

import dagster as dg

from finance_platform.defs import alerts, customers, market
from finance_platform.resources import build_resources
from finance_platform.resources.engine import CUSTOMER_ENGINE

resources = build_resources()

# In-process: a step re-importing the code location per process costs more than
# the work of most steps here (measured: 10-asset chain 22 s multiprocess vs
# 2.6 s in-process). Heavy work runs on Spark (EMR/Glue) through Pipes anyway.
defs = dg.Definitions.merge(
    market.defs,
    # The UI names the engine the customer steps run on (kinds pandas or spark).
    customers.build_defs(resources[CUSTOMER_ENGINE].kind),
    alerts.defs,
    dg.Definitions(resources=resources, executor=dg.in_process_executor),
)
