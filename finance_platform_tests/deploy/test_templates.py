"""The CloudFormation templates keep the user's security and cost rules (PRODUCT.md, part A).

These read deploy/cloudformation/*.yaml; they deploy nothing. Each test is one rule a bank's
platform team relies on when it stands the platform up.
"""

from __future__ import annotations

import pytest

from finance_platform_tests.deploy.cfn import (
    DAGSTER_ECS,
    DATA_PLATFORM,
    LAKE_KEY_REFS,
    as_list,
    grants,
    identity_policies,
    load,
    props,
    render,
    resources,
)

DP = load(DATA_PLATFORM)
ECS = load(DAGSTER_ECS)
BOTH = (DP, ECS)

LAKE = "${LakeBucket.Arn}"
KEY = "${LakeKey.Arn}"
OPS = "${OpsBucket.Arn}"
# Pipes messages only, expiring in a week; its reader writes at the bucket root, so the
# bucket (not a prefix) is the scope.
PIPES = "${PipesBucket.Arn}"
RESULTS = "${AthenaResultsBucket.Arn}"
GLUE = "arn:${AWS::Partition}:glue:${AWS::Region}:${AWS::AccountId}"
# Exactly the Glue calls finance_platform/resources/catalog.py makes to register a table.
CATALOG_WRITE_ACTIONS = (
    "glue:GetTable",
    "glue:CreateTable",
    "glue:UpdateTable",
    "glue:GetPartitions",
    "glue:BatchCreatePartition",
    "glue:BatchUpdatePartition",
    "glue:BatchDeletePartition",
)
CATALOG_READ_ACTIONS = (
    "glue:GetDatabase",
    "glue:GetDatabases",
    "glue:GetTable",
    "glue:GetTables",
    "glue:GetPartition",
    "glue:GetPartitions",
    "glue:BatchGetPartition",
)
# The analysts' layers: no raw, cleaned or quarantined rows (those hold names and PII).
BUSINESS_DATABASES = (
    "CustomerFeatureDatabase",
    "CustomerSegmentDatabase",
    "CustomerRecommendationDatabase",
    "MarketCuratedDatabase",
    "PlatformMonitoringDatabase",
)


def catalog_scope(actions: tuple[str, ...], *databases: str) -> set[tuple[str, str]]:
    """``actions`` on the catalog, the named databases and their tables, nothing else."""
    resources_ = {f"{GLUE}:catalog"}
    for db in databases:
        resources_ |= {f"{GLUE}:database/${{{db}}}", f"{GLUE}:table/${{{db}}}/*"}
    return {(a, r) for a in actions for r in resources_}


# ---------------------------------------------------------------- encryption


def _key_of(kind: str, p: dict) -> object:
    """Where each data store names its KMS key."""
    if kind == "AWS::S3::Bucket":
        (rule,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
        return rule["ServerSideEncryptionByDefault"]["KMSMasterKeyID"]
    if kind == "AWS::SecretsManager::Secret":
        return p["KmsKeyId"]
    if kind == "AWS::RedshiftServerless::Namespace":
        return p["KmsKeyId"]
    if kind == "AWS::SNS::Topic":
        return p["KmsMasterKeyId"]
    if kind == "AWS::Logs::LogGroup":
        return p["KmsKeyId"]
    if kind == "AWS::RDS::DBInstance":
        assert p["StorageEncrypted"] is True
        return p["KmsKeyId"]
    if kind == "AWS::Glue::DataCatalogEncryptionSettings":
        rest = p["DataCatalogEncryptionSettings"]["EncryptionAtRest"]
        assert rest["CatalogEncryptionMode"] == "SSE-KMS"
        return rest["SseAwsKmsKeyId"]
    if kind == "AWS::EMRServerless::Application":
        return p["MonitoringConfiguration"]["S3MonitoringConfiguration"]["EncryptionKeyArn"]
    raise AssertionError(f"no encryption rule for {kind}")


DATA_STORE_TYPES = {
    "AWS::S3::Bucket",
    "AWS::SecretsManager::Secret",
    "AWS::RedshiftServerless::Namespace",
    "AWS::SNS::Topic",
    "AWS::Logs::LogGroup",
    "AWS::RDS::DBInstance",
    "AWS::Glue::DataCatalogEncryptionSettings",
    "AWS::EMRServerless::Application",
}


def test_every_data_store_is_encrypted_with_the_customer_managed_key():
    seen = set()
    for template in BOTH:
        for name, res in resources(template).items():
            if res["Type"] in DATA_STORE_TYPES:
                seen.add(res["Type"])
                assert render(_key_of(res["Type"], res["Properties"])) in LAKE_KEY_REFS, name
    assert seen == DATA_STORE_TYPES
    # The key is customer managed, rotated, and kept if the stack goes away.
    key = resources(DP)["LakeKey"]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain"


def test_rds_secret_and_performance_insights_use_the_key_too():
    db = props(ECS, "Database")
    assert render(db["MasterUserSecret"]["KmsKeyId"]) in LAKE_KEY_REFS
    assert render(db["PerformanceInsightsKMSKeyId"]) in LAKE_KEY_REFS
    assert render(props(DP, "RedshiftNamespace")["AdminPasswordSecretKmsKeyId"]) in LAKE_KEY_REFS
    glue = props(DP, "GlueSecurityConfiguration")["EncryptionConfiguration"]
    assert glue["S3Encryptions"][0]["S3EncryptionMode"] == "SSE-KMS"
    assert glue["CloudWatchEncryption"]["CloudWatchEncryptionMode"] == "SSE-KMS"


# ---------------------------------------------------------------- buckets


@pytest.mark.parametrize("bucket", sorted(resources(DP, "AWS::S3::Bucket")))
def test_bucket_blocks_public_access_is_versioned_and_tls_only(bucket: str):
    p = props(DP, bucket)
    assert p["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert p["VersioningConfiguration"]["Status"] == "Enabled"
    assert p["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (policy,) = [
        r["Properties"]
        for r in resources(DP, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket}
    ]
    deny_http = [
        st
        for st in policy["PolicyDocument"]["Statement"]
        if st["Effect"] == "Deny"
        and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert len(deny_http) == 1
    st = deny_http[0]
    assert st["Principal"] == "*" and st["Action"] == "s3:*"
    assert {render(r) for r in st["Resource"]} == {
        "${" + bucket + ".Arn}",
        "${" + bucket + ".Arn}/*",
    }
    # Nothing in any bucket policy grants access to everyone.
    for st in policy["PolicyDocument"]["Statement"]:
        assert st["Effect"] == "Deny" or st["Principal"] != "*"


def _rules(bucket: str) -> dict[str, dict]:
    return {r["Id"]: r for r in props(DP, bucket)["LifecycleConfiguration"]["Rules"]}


def test_raw_objects_move_to_glacier_after_30_days():
    rule = _rules("LakeBucket")["raw-to-glacier-after-30-days"]
    assert rule["Status"] == "Enabled"
    assert rule["Prefix"] == "raw/"
    (transition,) = rule["Transitions"]
    assert transition["StorageClass"] == "GLACIER"
    param = DP["Parameters"][transition["TransitionInDays"]["Ref"]]
    assert param["Default"] == 30 and param["AllowedValues"] == [30]


def test_quality_logs_expire_on_a_set_schedule():
    rule = _rules("LakeBucket")["quality-logs-expire"]
    assert rule["Status"] == "Enabled"
    # The folder the customers pipeline writes its quality logs to.
    from finance_platform.defs.customers.common import QUALITY_LOGS

    assert rule["Prefix"] == QUALITY_LOGS + "/"
    days = DP["Parameters"][rule["ExpirationInDays"]["Ref"]]
    assert days["Default"] >= days["MinValue"] >= 30


def test_pipes_bucket_holds_only_expiring_messages():
    (rule,) = props(DP, "PipesBucket")["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and "Prefix" not in rule
    assert rule["ExpirationInDays"] <= 7
    # Only the Spark launcher (Dagster side) and the Spark job role touch it.
    users = {
        owner
        for owner, st in identity_policies(DP)
        if any(PIPES in str(render(r)) for r in as_list(st["Resource"]))
    }
    assert users == {"SparkLauncherPolicy", "SparkJobPolicy"}


def test_lake_refuses_objects_encrypted_with_another_key():
    st = {s["Sid"]: s for s in props(DP, "LakeBucketPolicy")["PolicyDocument"]["Statement"]}
    other_key = st["DenyOtherKmsKeys"]
    assert other_key["Effect"] == "Deny" and other_key["Action"] == "s3:PutObject"
    cond = other_key["Condition"]["StringNotEqualsIfExists"]
    assert render(cond["s3:x-amz-server-side-encryption-aws-kms-key-id"]) == KEY


# ---------------------------------------------------------------- IAM, stage by stage

EXPECTED_STAGE_GRANTS = {
    # Ingestion may put raw objects and use the key to encrypt (plus read its API key).
    "IngestionPolicy": {
        ("s3:PutObject", f"{LAKE}/raw/*"),
        ("kms:GenerateDataKey", KEY),
        ("secretsmanager:GetSecretValue", "${AlphaVantageApiKeySecret}"),
        ("kms:Decrypt", KEY),  # only via Secrets Manager (condition checked below)
    },
    # Validation gets/puts/lists its layers and decrypts.
    "ValidationPolicy": {
        ("s3:GetObject", f"{LAKE}/raw/*"),
        *{
            (a, f"{LAKE}/{layer}/*")
            for a in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
            for layer in ("validation", "monitoring", "quarantine")
        },
        ("s3:ListBucket", LAKE),
        ("kms:Decrypt", KEY),
        ("kms:GenerateDataKey", KEY),
        # It registers the raw deliveries (it can read their headers) and the quality logs.
        *catalog_scope(CATALOG_WRITE_ACTIONS, "CustomerRawDatabase", "PlatformMonitoringDatabase"),
        ("kms:Encrypt", KEY),  # only via Glue (the catalog is encrypted with the key)
    },
    # Transform reads raw + validation results and writes the layers it builds.
    "TransformPolicy": {
        ("s3:GetObject", f"{LAKE}/raw/*"),
        ("s3:GetObject", f"{LAKE}/validation/*"),
        *{
            (a, f"{LAKE}/{layer}/*")
            for a in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
            for layer in (
                "curated",
                "cleaned",
                "features",
                "segments",
                "recommendations",
                "quarantine",
                "monitoring",
            )
        },
        ("s3:ListBucket", LAKE),
        ("kms:Decrypt", KEY),
        ("kms:GenerateDataKey", KEY),
        # ... and registers each table it builds.
        *catalog_scope(
            CATALOG_WRITE_ACTIONS,
            "CustomerCleanedDatabase",
            "CustomerFeatureDatabase",
            "CustomerSegmentDatabase",
            "CustomerRecommendationDatabase",
            "MarketCuratedDatabase",
        ),
        ("kms:Encrypt", KEY),  # only via Glue
    },
    # Analysts: SQL in their workgroup over the business layers, read only.
    "AnalystsPolicy": {
        *{
            (
                a,
                "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/"
                "${AnalystsWorkgroup}",
            )
            for a in (
                "athena:StartQueryExecution",
                "athena:StopQueryExecution",
                "athena:GetQueryExecution",
                "athena:GetQueryResults",
                "athena:GetQueryResultsStream",
                "athena:BatchGetQueryExecution",
                "athena:ListQueryExecutions",
                "athena:GetWorkGroup",
            )
        },
        *{
            (
                a,
                "arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:datacatalog/"
                "AwsDataCatalog",
            )
            for a in (
                "athena:GetDataCatalog",
                "athena:ListDatabases",
                "athena:GetDatabase",
                "athena:ListTableMetadata",
                "athena:GetTableMetadata",
            )
        },
        *catalog_scope(CATALOG_READ_ACTIONS, *BUSINESS_DATABASES),
        *{
            ("s3:GetObject", f"{LAKE}/{layer}/*")
            for layer in (
                "features",
                "segments",
                "recommendations",
                "curated",
                "monitoring/quality_logs",
            )
        },
        ("s3:ListBucket", LAKE),
        ("s3:GetBucketLocation", LAKE),
        ("s3:GetBucketLocation", RESULTS),
        *{(a, f"{RESULTS}/athena/*") for a in ("s3:GetObject", "s3:PutObject")},
        ("s3:AbortMultipartUpload", f"{RESULTS}/athena/*"),
        ("s3:ListBucket", RESULTS),
        # Only through S3 and Glue (condition checked below).
        ("kms:Decrypt", KEY),
        ("kms:GenerateDataKey", KEY),
        ("kms:Encrypt", KEY),
    },
    # Warehouse load reads curated only and gets Redshift credentials.
    "WarehouseLoadPolicy": {
        ("s3:GetObject", f"{LAKE}/curated/*"),
        ("s3:ListBucket", LAKE),
        ("kms:Decrypt", KEY),
        ("redshift-serverless:GetCredentials", "${RedshiftWorkgroup.Workgroup.WorkgroupArn}"),
        ("redshift-data:ExecuteStatement", "${RedshiftWorkgroup.Workgroup.WorkgroupArn}"),
        ("redshift-data:BatchExecuteStatement", "${RedshiftWorkgroup.Workgroup.WorkgroupArn}"),
        ("redshift-data:DescribeStatement", "*"),
        ("redshift-data:GetStatementResult", "*"),
        ("redshift-data:CancelStatement", "*"),
    },
    # Spark jobs get their layers only (+ the job package, Pipes messages, logs).
    "SparkJobPolicy": {
        ("s3:GetObject", f"{LAKE}/raw/*"),
        ("s3:GetObject", f"{LAKE}/validation/*"),
        *{
            (a, f"{LAKE}/{layer}/*")
            for a in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
            for layer in (
                "curated",
                "cleaned",
                "features",
                "segments",
                "recommendations",
                "quarantine",
            )
        },
        ("s3:ListBucket", LAKE),
        ("s3:GetObject", f"{OPS}/spark/*"),
        ("s3:GetObject", f"{PIPES}/*"),
        ("s3:PutObject", f"{PIPES}/*"),
        ("s3:ListBucket", PIPES),
        ("s3:GetObject", f"{OPS}/spark-logs/*"),
        ("s3:PutObject", f"{OPS}/spark-logs/*"),
        ("s3:ListBucket", OPS),
        ("kms:Decrypt", KEY),
        ("kms:GenerateDataKey", KEY),
        *{
            (a, "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws-glue/*")
            for a in (
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:AssociateKmsKey",
            )
        },
    },
}

EXPECTED_LIST_PREFIXES = {
    "ValidationPolicy": {"raw/*", "validation/*", "monitoring/*", "quarantine/*"},
    "TransformPolicy": {
        "raw/*",
        "validation/*",
        "curated/*",
        "cleaned/*",
        "features/*",
        "segments/*",
        "recommendations/*",
        "quarantine/*",
        "monitoring/*",
    },
    "WarehouseLoadPolicy": {"curated/*"},
    "AnalystsPolicy": {
        "features/*",
        "segments/*",
        "recommendations/*",
        "curated/*",
        "monitoring/quality_logs/*",
    },
    "SparkJobPolicy": {
        "raw/*",
        "validation/*",
        "curated/*",
        "cleaned/*",
        "features/*",
        "segments/*",
        "recommendations/*",
        "quarantine/*",
    },
}


@pytest.mark.parametrize("policy", sorted(EXPECTED_STAGE_GRANTS))
def test_each_stage_policy_grants_exactly_what_the_stage_needs(policy: str):
    assert grants(DP, policy) == EXPECTED_STAGE_GRANTS[policy]


@pytest.mark.parametrize("policy", sorted(EXPECTED_LIST_PREFIXES))
def test_listing_the_lake_is_limited_to_the_stage_layers(policy: str):
    doc = props(DP, policy)["PolicyDocument"]
    lake_lists = [
        st
        for st in doc["Statement"]
        if "s3:ListBucket" in as_list(st["Action"]) and render(as_list(st["Resource"])[0]) == LAKE
    ]
    (st,) = lake_lists
    assert set(st["Condition"]["StringLike"]["s3:prefix"]) == EXPECTED_LIST_PREFIXES[policy]


def test_ingestion_cannot_read_or_list_the_lake():
    actions = {a for a, _ in grants(DP, "IngestionPolicy")}
    assert not actions & {"s3:GetObject", "s3:ListBucket", "s3:DeleteObject"}
    decrypt = [
        st
        for st in props(DP, "IngestionPolicy")["PolicyDocument"]["Statement"]
        if "kms:Decrypt" in as_list(st["Action"])
    ]
    (st,) = decrypt
    assert render(st["Condition"]["StringEquals"]["kms:ViaService"]) == (
        "secretsmanager.${AWS::Region}.amazonaws.com"
    )


def test_warehouse_load_reads_curated_only_and_redshift_copy_role_too():
    s3 = {r for a, r in grants(DP, "WarehouseLoadPolicy") if a.startswith("s3:")}
    assert s3 == {f"{LAKE}/curated/*", LAKE}
    copy = props(DP, "RedshiftCopyRole")
    (policy,) = copy["Policies"]
    resources_ = {
        render(r) for st in policy["PolicyDocument"]["Statement"] for r in as_list(st["Resource"])
    }
    assert resources_ == {f"{LAKE}/curated/*", LAKE, KEY}
    trusted = copy["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    assert set(trusted) == {"redshift.amazonaws.com", "redshift-serverless.amazonaws.com"}


def test_each_stage_has_its_own_role_with_only_its_policy():
    roles = {
        "IngestionRole": ["IngestionPolicy"],
        "ValidationRole": ["ValidationPolicy"],
        "TransformRole": ["TransformPolicy", "SparkLauncherPolicy"],
        "WarehouseLoadRole": ["WarehouseLoadPolicy"],
        "SparkJobRole": ["SparkJobPolicy"],
    }
    for role, policies in roles.items():
        p = props(DP, role)
        assert [render(x) for x in p["ManagedPolicyArns"]] == ["${" + x + "}" for x in policies]
        assert "Policies" not in p, f"{role} has inline policies besides its stage policy"


# Actions that have no resource-level permissions; `*` is allowed for these alone, and the
# ones touching data carry a condition that narrows them.
STAR_RESOURCE_ALLOWED = {
    "cloudwatch:PutMetricData": "cloudwatch:namespace",
    "redshift-data:DescribeStatement": "redshift-data:statement-owner-iam-userid",
    "redshift-data:GetStatementResult": "redshift-data:statement-owner-iam-userid",
    "redshift-data:CancelStatement": "redshift-data:statement-owner-iam-userid",
    "ecr:GetAuthorizationToken": None,
    "ecs:DescribeTaskDefinition": None,
    "ec2:DescribeNetworkInterfaces": None,
}


@pytest.mark.parametrize("template", [DP, ECS], ids=["data-platform", "dagster-ecs"])
def test_no_wildcard_actions_and_no_wildcard_resources_on_data(template):
    checked = 0
    for owner, st in identity_policies(template):
        assert st["Effect"] == "Allow", owner
        for action in as_list(st["Action"]):
            checked += 1
            assert "*" not in action, f"{owner}: wildcard action {action}"
            for resource in map(render, as_list(st["Resource"])):
                if resource == "*":
                    assert action in STAR_RESOURCE_ALLOWED, f"{owner}: {action} on *"
                    cond_key = STAR_RESOURCE_ALLOWED[action]
                    if cond_key:
                        conds = {k for c in st["Condition"].values() for k in c}
                        assert cond_key in conds, f"{owner}: {action} on * without {cond_key}"
                    continue
                # Data never at bucket-wide object level or any-bucket level.
                assert not resource.endswith(":::*"), f"{owner}: {resource}"
                if resource != f"{PIPES}/*":
                    assert not resource.endswith(".Arn}/*"), f"{owner}: whole bucket {resource}"
                assert resource != "arn:aws:s3:::*"
    assert checked > 20


def test_roles_pass_only_the_roles_they_launch():
    for template in BOTH:
        for owner, st in identity_policies(template):
            if "iam:PassRole" in as_list(st["Action"]):
                assert "iam:PassedToService" in st["Condition"]["StringEquals"], owner
                assert all(render(r) != "*" for r in as_list(st["Resource"])), owner


# ---------------------------------------------------------------- warehouse


def test_redshift_serverless_is_encrypted_private_tls_only_and_capped():
    wg = props(DP, "RedshiftWorkgroup")
    assert wg["PubliclyAccessible"] is False
    params = {c["ParameterKey"]: c["ParameterValue"] for c in wg["ConfigParameters"]}
    assert params["require_ssl"] == "true"
    assert DP["Parameters"]["RedshiftBaseCapacity"]["Default"] == 8  # smallest; idle = no charge
    assert DP["Parameters"]["RedshiftMaxCapacity"]["Default"] <= 16
    ns = props(DP, "RedshiftNamespace")
    assert ns["ManageAdminPassword"] is True and "AdminUserPassword" not in ns
    assert [render(r) for r in ns["IamRoles"]] == ["${RedshiftCopyRole.Arn}"]


# ---------------------------------------------------------------- Spark engine


def test_glue_job_runs_flex_under_the_spark_job_role():
    job = props(DP, "SparkGlueJob")
    assert job["ExecutionClass"] == "FLEX"
    assert job["WorkerType"] in {"G.1X", "G.2X"}  # FLEX supports these
    assert render(job["Role"]) == "${SparkJobRole.Arn}"
    assert render(job["SecurityConfiguration"]) == "${GlueSecurityConfiguration}"
    assert render(job["Command"]["ScriptLocation"]).endswith("/run_job.py")
    assert render(job["DefaultArguments"]["--extra-py-files"]).endswith("/finance_platform.zip")


def test_emr_serverless_application_stops_when_idle():
    app = props(DP, "SparkApplication")
    assert app["Type"] == "SPARK"
    assert app["AutoStopConfiguration"] == {"Enabled": True, "IdleTimeoutMinutes": 5}
    assert app["MaximumCapacity"]["Cpu"]
    from finance_platform.settings import SparkSettings

    assert app["ReleaseLabel"] == SparkSettings().emr_release_label


def _databases() -> dict[str, str]:
    """Glue database resource -> the database name it creates."""
    return {
        name: r["Properties"]["DatabaseInput"]["Name"]
        for name, r in resources(DP, "AWS::Glue::Database").items()
    }


def test_customer_catalog_databases_exist():
    assert {
        "customer_raw_db",
        "customer_cleaned_db",
        "customer_feature_db",
        "customer_segment_db",
        "customer_recommendation_db",
    } <= set(_databases().values())


def test_every_database_the_catalog_registers_into_is_created_here():
    from finance_platform.resources.catalog import LAKE_TABLES

    assert {e.database for e in LAKE_TABLES.values()} == set(_databases().values())


def test_each_database_is_written_by_exactly_one_stage_and_nothing_writes_elsewhere():
    """The step that writes a table registers it; no one else may change the catalog."""
    writers: dict[str, set[str]] = {}
    for template in BOTH:
        for owner, st in identity_policies(template):
            actions = [a for a in as_list(st["Action"]) if a.startswith("glue:")]
            changes = [a for a in actions if a not in CATALOG_READ_ACTIONS]
            catalog = [a for a in changes if "Table" in a or "Partition" in a or "Database" in a]
            if not catalog:
                continue
            for resource in map(render, as_list(st["Resource"])):
                assert resource.startswith(GLUE + ":"), f"{owner}: {resource}"
                if ":database/" in resource:
                    writers.setdefault(resource.rsplit("/", 1)[1], set()).add(owner)
    expected = {
        "CustomerRawDatabase": "ValidationPolicy",
        "PlatformMonitoringDatabase": "ValidationPolicy",
        "CustomerCleanedDatabase": "TransformPolicy",
        "CustomerFeatureDatabase": "TransformPolicy",
        "CustomerSegmentDatabase": "TransformPolicy",
        "CustomerRecommendationDatabase": "TransformPolicy",
        "MarketCuratedDatabase": "TransformPolicy",
    }
    assert writers == {"${" + db + "}": {owner} for db, owner in expected.items()}
    assert set(expected) == set(_databases())


def test_catalog_key_use_for_encrypt_goes_through_glue_only():
    for policy in ("ValidationPolicy", "TransformPolicy"):
        (st,) = [
            st
            for st in props(DP, policy)["PolicyDocument"]["Statement"]
            if "kms:Encrypt" in as_list(st["Action"])
        ]
        assert render(st["Condition"]["StringEquals"]["kms:ViaService"]) == (
            "glue.${AWS::Region}.amazonaws.com"
        )
    (st,) = [
        st
        for st in props(DP, "AnalystsPolicy")["PolicyDocument"]["Statement"]
        if st["Sid"].startswith("UseLakeKey")
    ]
    assert {render(s) for s in st["Condition"]["StringEquals"]["kms:ViaService"]} == {
        "s3.${AWS::Region}.amazonaws.com",
        "glue.${AWS::Region}.amazonaws.com",
    }


def test_no_crawler_tables_are_registered_by_the_steps_that_write_them():
    for template in BOTH:
        assert not resources(template, "AWS::Glue::Crawler")
        for owner, st in identity_policies(template):
            assert not [a for a in as_list(st["Action"]) if "Crawler" in a], owner


def test_analysts_query_in_an_enforced_workgroup_with_encrypted_results():
    wg = props(DP, "AnalystsWorkgroup")["WorkGroupConfiguration"]
    # Clients cannot override where results go or how they are encrypted.
    assert wg["EnforceWorkGroupConfiguration"] is True
    result = wg["ResultConfiguration"]
    assert render(result["OutputLocation"]) == "s3://${AthenaResultsBucket}/athena/"
    assert result["EncryptionConfiguration"]["EncryptionOption"] == "SSE_KMS"
    assert render(result["EncryptionConfiguration"]["KmsKey"]) in LAKE_KEY_REFS
    cutoff = DP["Parameters"][wg["BytesScannedCutoffPerQuery"]["Ref"]]
    assert cutoff["Default"] <= 100 * 1024**3  # one query never scans the month's budget
    # Analysts hold the analysts' policy only, and it changes nothing but query results.
    role = props(DP, "AnalystsRole")
    assert [render(x) for x in role["ManagedPolicyArns"]] == ["${AnalystsPolicy}"]
    assert "Policies" not in role
    changing = ("s3:Put", "s3:Delete", "glue:Create", "glue:Update", "glue:Delete", "glue:Batch")
    writes = {
        (a, r)
        for a, r in grants(DP, "AnalystsPolicy")
        if a.startswith(changing) and a not in CATALOG_READ_ACTIONS
    }
    assert writes == {("s3:PutObject", f"{RESULTS}/athena/*")}


# ---------------------------------------------------------------- monitoring


def test_alarms_watch_the_metrics_the_platform_publishes_and_notify_sns():
    from finance_platform.resources import metrics

    published = {m.name for m in metrics.run_duration("job", 1.0, False)} | {
        m.name for m in metrics.check_outcome("a", "c", False, "ERROR")
    }
    alarms = resources(DP, "AWS::CloudWatch::Alarm")
    expressions = " ".join(
        m["Expression"] for a in alarms.values() for m in a["Properties"].get("Metrics", [])
    )
    assert f"SUM(RunFailed) FROM SCHEMA({metrics.NAMESPACE}, job)" in expressions
    assert "SUM(CheckFailed)" in expressions and "severity = 'ERROR'" in expressions
    assert {"RunFailed", "CheckFailed"} <= published
    for template in BOTH:
        for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
            targets = {render(t) for t in alarm["Properties"]["AlarmActions"]}
            assert targets <= {"${AlarmTopic}", "import:finance-${Environment}-alarm-topic"}, name
    topic_policy = props(DP, "AlarmTopicPolicy")["PolicyDocument"]["Statement"]
    assert all(st["Effect"] == "Deny" or st["Principal"] != "*" for st in topic_policy)


# ---------------------------------------------------------------- Dagster on ECS


def test_dagster_runs_on_fargate_with_no_public_ip():
    services = resources(ECS, "AWS::ECS::Service")
    assert {s["Properties"]["ServiceName"] for s in services.values()} == {
        "webserver",
        "webserver-read-only",
        "daemon",
        "code-location",
    }
    for name, svc in services.items():
        p = svc["Properties"]
        assert p["LaunchType"] == "FARGATE", name
        assert p["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
        assert p["DeploymentConfiguration"]["DeploymentCircuitBreaker"]["Rollback"] is True
    daemon = props(ECS, "DaemonService")
    # Never two daemons at once, even during a rollout.
    assert daemon["DesiredCount"] == 1
    assert daemon["DeploymentConfiguration"]["MaximumPercent"] == 100


def test_task_definitions_are_fargate_read_only_and_log_to_the_encrypted_group():
    for name, td in resources(ECS, "AWS::ECS::TaskDefinition").items():
        p = td["Properties"]
        assert p["RequiresCompatibilities"] == ["FARGATE"], name
        for c in p["ContainerDefinitions"]:
            assert c["ReadonlyRootFilesystem"] is True, name
            assert render(c["Image"]) == "${ImageUri}", name
            log = c["LogConfiguration"]
            assert log["LogDriver"] == "awslogs"
            assert render(log["Options"]["awslogs-group"]) == "${DagsterLogGroup}"


def test_run_launcher_targets_the_run_worker_task_definition():
    import yaml

    from finance_platform_tests.deploy.cfn import DEPLOY, container_env

    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    launcher = instance["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    env_name = launcher["config"]["task_definition"]["env"]
    run_td = props(ECS, "RunWorkerTaskDefinition")
    assert [c["Name"] for c in run_td["ContainerDefinitions"]] == [
        launcher["config"]["container_name"]
    ]
    # Wherever a run can be launched or terminated from, the launcher finds its definition.
    family = render(run_td["Family"])
    for td in resources(ECS, "AWS::ECS::TaskDefinition"):
        assert container_env(ECS, td)[env_name] == family, td
    # The daemon may start exactly that family, in this cluster, as the run-worker role.
    daemon = {st["Sid"]: st for _, st in identity_policies(ECS) if _.startswith("DaemonTaskRole")}
    assert [render(r) for r in daemon["LaunchRunTasks"]["Resource"]] == [
        "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:task-definition/"
        f"{family}:*"
    ]
    assert {render(r) for r in daemon["PassRunRoles"]["Resource"]} == {
        "${RunWorkerTaskRole.Arn}",
        "${TaskExecutionRole.Arn}",
    }


def test_run_worker_holds_the_stage_policies():
    p = props(ECS, "RunWorkerTaskRole")
    imported = {render(x) for x in p["ManagedPolicyArns"]}
    assert imported == {
        f"import:finance-${{Environment}}-{name}-policy"
        for name in (
            "ingestion",
            "validation",
            "transform",
            "warehouse-load",
            "spark-launcher",
            "metrics",
        )
    }
    exports = {
        render(o["Export"]["Name"]): o["Value"] for o in DP["Outputs"].values() if "Export" in o
    }
    for name in imported:
        assert name.removeprefix("import:") in exports


def test_dagster_database_is_encrypted_private_tls_only_and_backed_up():
    db = props(ECS, "Database")
    assert db["StorageEncrypted"] is True
    assert db["PubliclyAccessible"] is False
    assert db["ManageMasterUserPassword"] is True and "MasterUserPassword" not in db
    assert db["BackupRetentionPeriod"] >= 7
    assert db["DeletionProtection"] is True
    pg = props(ECS, "DatabaseParameters")["Parameters"]
    assert pg["rds.force_ssl"] == "1"
    ingress = [
        r["Properties"]
        for r in resources(ECS, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Ref": "DatabaseSecurityGroup"}
    ]
    assert [render(i["SourceSecurityGroupId"]) for i in ingress] == ["${TasksSecurityGroup}"]


def test_nothing_is_reachable_from_the_internet():
    lb = props(ECS, "LoadBalancer")
    assert lb["Scheme"] == "internal"
    listeners = resources(ECS, "AWS::ElasticLoadBalancingV2::Listener")
    for listener in listeners.values():
        assert listener["Properties"]["Protocol"] == "HTTPS"
        assert listener["Properties"]["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    for template in BOTH:
        for name, sg in resources(template, "AWS::EC2::SecurityGroup").items():
            for rule in sg["Properties"].get("SecurityGroupIngress", []):
                assert render(rule.get("CidrIp")) != "0.0.0.0/0", name
        for name, rule in resources(template, "AWS::EC2::SecurityGroupIngress").items():
            assert "CidrIp" not in rule["Properties"], name


# ---------------------------------------------------------------- the door


def _forwards_without_authentication(actions: list[dict]) -> list[str]:
    """The forwarding actions of a listener or rule that no OIDC sign-in precedes."""
    ordered = sorted(actions, key=lambda a: a.get("Order", 0))
    signed_in = False
    unguarded = []
    for action in ordered:
        if action["Type"] == "authenticate-oidc":
            signed_in = True
        forwards = action["Type"] == "forward" or "TargetGroupArn" in action
        forwards |= "ForwardConfig" in action
        if forwards and not signed_in:
            unguarded.append(str(action.get("TargetGroupArn") or action.get("ForwardConfig")))
    return unguarded


def test_the_check_below_catches_a_forward_without_sign_in():
    """Guard the guard: the check must flag the configurations it exists to refuse."""
    target = {"Ref": "WebserverTargetGroup"}
    assert _forwards_without_authentication([{"Type": "forward", "TargetGroupArn": target}])
    assert _forwards_without_authentication(
        [
            {"Type": "forward", "Order": 1, "TargetGroupArn": target},
            {"Type": "authenticate-oidc", "Order": 2},
        ]
    )
    assert not _forwards_without_authentication(
        [
            {"Type": "authenticate-oidc", "Order": 1},
            {"Type": "forward", "Order": 2, "TargetGroupArn": target},
        ]
    )


def test_no_listener_or_rule_forwards_a_request_the_identity_provider_did_not_sign_in():
    listeners = resources(ECS, "AWS::ElasticLoadBalancingV2::Listener")
    rules = resources(ECS, "AWS::ElasticLoadBalancingV2::ListenerRule")
    assert listeners and rules
    for name, listener in listeners.items():
        assert not _forwards_without_authentication(listener["Properties"]["DefaultActions"]), name
    forwarded = set()
    for name, rule in rules.items():
        actions = rule["Properties"]["Actions"]
        assert not _forwards_without_authentication(actions), name
        forwarded |= {render(a["TargetGroupArn"]) for a in actions if a["Type"] == "forward"}
    # Every target group the services register with is reached only through those rules.
    groups = {"${" + g + "}" for g in resources(ECS, "AWS::ElasticLoadBalancingV2::TargetGroup")}
    assert forwarded == groups


def _oidc(rule: str) -> dict:
    (action,) = [a for a in props(ECS, rule)["Actions"] if a["Type"] == "authenticate-oidc"]
    return action["AuthenticateOidcConfig"]


@pytest.mark.parametrize(
    ("rule", "client", "secret_key", "url", "target"),
    [
        (
            "EngineersListenerRule",
            "OidcEngineersClientId",
            "engineers",
            "DagsterUiUrl",
            "WebserverTargetGroup",
        ),
        (
            "AnalystsListenerRule",
            "OidcAnalystsClientId",
            "analysts",
            "DagsterReadOnlyUiUrl",
            "ReadOnlyWebserverTargetGroup",
        ),
    ],
)
def test_each_ui_signs_in_with_its_own_application_and_a_secret_from_secrets_manager(
    rule: str, client: str, secret_key: str, url: str, target: str
):
    config = _oidc(rule)
    for field, parameter in {
        "Issuer": "OidcIssuer",
        "AuthorizationEndpoint": "OidcAuthorizationEndpoint",
        "TokenEndpoint": "OidcTokenEndpoint",
        "UserInfoEndpoint": "OidcUserInfoEndpoint",
        "ClientId": client,
    }.items():
        assert config[field] == {"Ref": parameter}, field
    assert config["OnUnauthenticatedRequest"] == "authenticate"
    # The secret is resolved by CloudFormation from Secrets Manager (the slot the data
    # stack creates), never a parameter a deployer types or a value in the template.
    secret = render(config["ClientSecret"])
    secrets = resources(DP, "AWS::SecretsManager::Secret").values()
    names = [render(r["Properties"]["Name"]) for r in secrets]
    (slot,) = [n for n in names if "oidc" in n]
    assert secret == f"{{{{resolve:secretsmanager:{slot}:SecretString:{secret_key}}}}}"
    assert not any("secret" in p.lower() for p in ECS["Parameters"])
    # The rule matches its UI's host name and forwards to its own webserver.
    (condition,) = props(ECS, rule)["Conditions"]
    assert condition["HostHeaderConfig"]["Values"] == [
        {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": url}]}]}
    ]
    assert ECS["Parameters"][url]["AllowedPattern"] == "^https://[a-z0-9.-]+$"
    forward = [a for a in props(ECS, rule)["Actions"] if a["Type"] == "forward"]
    assert [render(a["TargetGroupArn"]) for a in forward] == ["${" + target + "}"]


def test_the_analysts_webserver_is_read_only_and_its_role_can_change_nothing():
    (container,) = props(ECS, "ReadOnlyWebserverTaskDefinition")["ContainerDefinitions"]
    assert "--read-only" in container["Command"]
    (full,) = props(ECS, "WebserverTaskDefinition")["ContainerDefinitions"]
    assert "--read-only" not in full["Command"]
    assert render(props(ECS, "ReadOnlyWebserverTaskDefinition")["TaskRoleArn"]) == (
        "${ReadOnlyWebserverTaskRole.Arn}"
    )
    actions = {
        a
        for owner, st in identity_policies(ECS)
        if owner.startswith("ReadOnlyWebserverTaskRole/")
        for a in as_list(st["Action"])
    }
    assert actions == {"ecs:DescribeTaskDefinition"}
    service = props(ECS, "ReadOnlyWebserverService")
    assert [render(lb["TargetGroupArn"]) for lb in service["LoadBalancers"]] == [
        "${ReadOnlyWebserverTargetGroup}"
    ]
