package microguard.policies.public_storage_test

import data.microguard.policies.public_storage

cfg := {"policies": {"public-storage": {"action": "deny", "publicStorageClasses": ["shared-nfs"]}}}

claim(spec, class) := {
	"kind": {"group": "", "version": "v1", "kind": "PersistentVolumeClaim"},
	"name": "photos",
	"object": {"metadata": {"name": "photos"}, "spec": spec},
	"storageClass": class,
}

test_listed_class_is_denied if {
	vs := public_storage.violation with input as claim({"storageClassName": "shared-nfs"}, {"name": "shared-nfs", "annotations": {}, "default": false}) with data.microguard.config as cfg
	count(vs) == 1
	some v in vs
	v.rule == "public-storage-class"
	v.field == "spec.storageClassName"
	v.message == `PersistentVolumeClaim "photos" would store its data publicly: storage class "shared-nfs" is listed in publicStorageClasses`
	v.hint == `set spec.storageClassName to a private storage class (not "shared-nfs")`
}

test_listed_class_is_denied_even_when_unknown_to_the_cluster if {
	inp := json.remove(claim({"storageClassName": "shared-nfs"}, {}), ["storageClass"])
	count(public_storage.violation) == 1 with input as inp with data.microguard.config as cfg
}

test_annotated_class_is_denied if {
	vs := public_storage.violation with input as claim({"storageClassName": "open"}, {"name": "open", "annotations": {"microguard.io/public": "true"}, "default": false}) with data.microguard.config as cfg
	some v in vs
	v.message == `PersistentVolumeClaim "photos" would store its data publicly: storage class "open" is annotated microguard.io/public: "true"`
}

test_public_default_class_is_denied if {
	vs := public_storage.violation with input as claim({}, {"name": "shared-nfs", "annotations": {}, "default": true}) with data.microguard.config as cfg
	some v in vs
	v.hint == `set spec.storageClassName to a private storage class (the default, "shared-nfs", is public)`
}

test_private_classes_are_admitted if {
	count(public_storage.violation) == 0 with input as claim({"storageClassName": "ssd"}, {"name": "ssd", "annotations": {"microguard.io/public": "false"}, "default": false}) with data.microguard.config as cfg
	count(public_storage.violation) == 0 with input as claim({}, {"name": "ssd", "annotations": {}, "default": true}) with data.microguard.config as cfg
	count(public_storage.violation) == 0 with input as json.remove(claim({"storageClassName": ""}, {}), ["storageClass"]) with data.microguard.config as cfg
}

test_other_kinds_are_not_checked if {
	inp := object.union(claim({"storageClassName": "shared-nfs"}, {"name": "shared-nfs", "annotations": {}, "default": false}), {"kind": {"group": "", "version": "v1", "kind": "ConfigMap"}})
	count(public_storage.violation) == 0 with input as inp with data.microguard.config as cfg
}

# --- Object-storage custom resources.

cr(group, version, kind, name, spec) := {
	"kind": {"group": group, "version": version, "kind": kind},
	"name": name,
	"namespace": "where2eat",
	"object": {"apiVersion": sprintf("%s/%s", [group, version]), "kind": kind, "metadata": {"name": name}, "spec": spec},
}

# only evaluates the violations of inp with the default configuration.
only(inp) := vs if {
	vs := public_storage.violation with input as inp with data.microguard.config as cfg
}

# fields lists the fields of a set of violations.
fields(vs) := {v.field | some v in vs}

rules(vs) := {v.rule | some v in vs}

# complete holds when every violation carries the four fields the engine needs.
complete(vs) if {
	every v in vs {
		v.rule != ""
		v.message != ""
		v.field != ""
		v.hint != ""
	}
}

ack_bucket(spec) := cr("s3.services.k8s.aws", "v1alpha1", "Bucket", "menu-photos", spec)

all_users := "http://acs.amazonaws.com/groups/global/AllUsers"

authenticated_users := "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

test_ack_public_canned_acls_are_denied if {
	every acl in ["public-read", "public-read-write", "authenticated-read"] {
		vs := only(ack_bucket({"name": "menu-photos", "acl": acl}))
		count(vs) == 1
		complete(vs)
		some v in vs
		v.rule == "public-bucket-acl"
		v.field == "spec.acl"
		v.hint == "set spec.acl to private"
	}
	some v in only(ack_bucket({"name": "menu-photos", "acl": "public-read"}))
	v.message == `Bucket "menu-photos" would be public: spec.acl is the canned ACL "public-read", which grants read access to everyone (AllUsers)`
}

test_ack_private_canned_acls_are_admitted if {
	every acl in ["private", "bucket-owner-full-control", "bucket-owner-read", "log-delivery-write", "aws-exec-read", ""] {
		count(only(ack_bucket({"name": "menu-photos", "acl": acl}))) == 0
	}
	count(only(ack_bucket({"name": "menu-photos"}))) == 0
}

test_ack_grants_to_global_groups_are_denied if {
	vs := only(ack_bucket({
		"name": "menu-photos",
		"grantRead": sprintf("uri=%q", [all_users]),
		"grantWrite": sprintf("id=111122223333, uri=%s", [authenticated_users]),
		"grantFullControl": "uri=HTTP://ACS.AMAZONAWS.COM/GROUPS/GLOBAL/ALLUSERS",
	}))
	count(vs) == 3
	complete(vs)
	rules(vs) == {"public-bucket-acl"}
	fields(vs) == {"spec.grantRead", "spec.grantWrite", "spec.grantFullControl"}
	some v in vs
	v.field == "spec.grantRead"
	v.message == `Bucket "menu-photos" would be public: spec.grantRead grants READ to everyone (AllUsers)`
	v.hint == "remove the grantee uri=http://acs.amazonaws.com/groups/global/AllUsers from spec.grantRead; grant only to specific accounts (id=… or emailAddress=…)"
	some w in vs
	w.field == "spec.grantWrite"
	w.message == `Bucket "menu-photos" would be public: spec.grantWrite grants WRITE to every AWS account (AuthenticatedUsers)`
}

test_ack_grants_to_accounts_are_admitted if {
	count(only(ack_bucket({
		"name": "menu-photos",
		"grantRead": "id=79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
		"grantReadACP": "emailAddress=ana@example.com",
		"grantWriteACP": "uri=http://acs.amazonaws.com/groups/s3/LogDelivery",
	}))) == 0
}

test_ack_public_access_block_flags_set_false_are_denied if {
	vs := only(ack_bucket({"name": "menu-photos", "publicAccessBlock": {
		"blockPublicACLs": false,
		"ignorePublicACLs": true,
		"blockPublicPolicy": false,
		"restrictPublicBuckets": false,
	}}))
	count(vs) == 3
	complete(vs)
	rules(vs) == {"public-access-block"}
	fields(vs) == {"spec.publicAccessBlock.blockPublicACLs", "spec.publicAccessBlock.blockPublicPolicy", "spec.publicAccessBlock.restrictPublicBuckets"}
	some v in vs
	v.field == "spec.publicAccessBlock.blockPublicACLs"
	v.message == `Bucket "menu-photos" does not block public access: spec.publicAccessBlock.blockPublicACLs is false, so new public ACLs are accepted`
	v.hint == "set spec.publicAccessBlock.blockPublicACLs to true"
}

# Without publicAccessBlock, or with flags left out, ACK sends nothing for
# them and AWS keeps blocking public access on new buckets.
test_ack_public_access_block_true_or_absent_is_admitted if {
	count(only(ack_bucket({"name": "menu-photos", "publicAccessBlock": {
		"blockPublicACLs": true,
		"ignorePublicACLs": true,
		"blockPublicPolicy": true,
		"restrictPublicBuckets": true,
	}}))) == 0
	count(only(ack_bucket({"name": "menu-photos", "publicAccessBlock": {"blockPublicACLs": true}}))) == 0
	count(only(ack_bucket({"name": "menu-photos", "publicAccessBlock": {}}))) == 0
}

test_ack_flag_casing_of_upbound_is_not_read if {
	# blockPublicAcls is the Upbound spelling; ACK's field is blockPublicACLs.
	count(only(ack_bucket({"name": "menu-photos", "publicAccessBlock": {"blockPublicAcls": false}}))) == 0
}

# --- Crossplane (Upbound) provider-aws.

bucket_acl(group, version, for_provider) := cr(group, version, "BucketACL", "menu-photos-acl", {"forProvider": for_provider})

test_upbound_public_canned_acl_is_denied if {
	every group in ["s3.aws.upbound.io", "s3.aws.m.upbound.io"] {
		vs := only(bucket_acl(group, "v1beta1", {"region": "eu-west-1", "bucketRef": {"name": "menu-photos"}, "acl": "public-read-write"}))
		count(vs) == 1
		complete(vs)
		some v in vs
		v.rule == "public-bucket-acl"
		v.field == "spec.forProvider.acl"
		v.message == `BucketACL "menu-photos-acl" would make its bucket public: spec.forProvider.acl is the canned ACL "public-read-write", which grants read and write access to everyone (AllUsers)`
		v.hint == "set spec.forProvider.acl to private"
	}
}

test_upbound_public_canned_acl_in_init_provider_is_denied if {
	inp := cr("s3.aws.upbound.io", "v1beta2", "BucketACL", "menu-photos-acl", {"forProvider": {"region": "eu-west-1"}, "initProvider": {"acl": "authenticated-read"}})
	fields(only(inp)) == {"spec.initProvider.acl"}
}

test_upbound_grant_to_all_users_is_denied_in_v1beta2 if {
	vs := only(bucket_acl("s3.aws.upbound.io", "v1beta2", {"region": "eu-west-1", "accessControlPolicy": {
		"owner": {"id": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
		"grant": [
			{"permission": "FULL_CONTROL", "grantee": {"type": "CanonicalUser", "id": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}},
			{"permission": "READ", "grantee": {"type": "Group", "uri": all_users}},
		],
	}}))
	count(vs) == 1
	complete(vs)
	some v in vs
	v.rule == "public-bucket-acl"
	v.field == "spec.forProvider.accessControlPolicy.grant[1].grantee.uri"
	v.message == `BucketACL "menu-photos-acl" would make its bucket public: spec.forProvider.accessControlPolicy.grant[1].grantee.uri grants access to everyone (AllUsers)`
	v.hint == "remove the grant whose grantee uri is http://acs.amazonaws.com/groups/global/AllUsers from spec.forProvider.accessControlPolicy; grant only to specific accounts (type: CanonicalUser)"
}

test_upbound_grant_to_authenticated_users_is_denied_in_v1beta1_lists if {
	vs := only(bucket_acl("s3.aws.upbound.io", "v1beta1", {"region": "eu-west-1", "accessControlPolicy": [{"grant": [{"permission": "READ_ACP", "grantee": [{"type": "Group", "uri": authenticated_users}]}]}]}))
	fields(vs) == {"spec.forProvider.accessControlPolicy[0].grant[0].grantee[0].uri"}
	some v in vs
	v.message == `BucketACL "menu-photos-acl" would make its bucket public: spec.forProvider.accessControlPolicy[0].grant[0].grantee[0].uri grants access to every AWS account (AuthenticatedUsers)`
}

test_upbound_private_bucket_acls_are_admitted if {
	count(only(bucket_acl("s3.aws.upbound.io", "v1beta2", {"region": "eu-west-1", "acl": "private"}))) == 0
	count(only(bucket_acl("s3.aws.m.upbound.io", "v1beta1", {"region": "eu-west-1", "accessControlPolicy": {"grant": [
		{"permission": "FULL_CONTROL", "grantee": {"type": "CanonicalUser", "id": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"}},
		{"permission": "WRITE", "grantee": {"type": "Group", "uri": "http://acs.amazonaws.com/groups/s3/LogDelivery"}},
	]}}))) == 0
}

upbound_all_blocked := {"region": "eu-west-1", "bucketRef": {"name": "menu-photos"}, "blockPublicAcls": true, "ignorePublicAcls": true, "blockPublicPolicy": true, "restrictPublicBuckets": true}

pab(group, spec) := cr(group, "v1beta1", "BucketPublicAccessBlock", "menu-photos", spec)

test_upbound_public_access_block_flag_false_is_denied if {
	every group in ["s3.aws.upbound.io", "s3.aws.m.upbound.io"] {
		vs := only(pab(group, {"forProvider": object.union(upbound_all_blocked, {"blockPublicPolicy": false})}))
		count(vs) == 1
		complete(vs)
		some v in vs
		v.rule == "public-access-block"
		v.field == "spec.forProvider.blockPublicPolicy"
		v.message == `BucketPublicAccessBlock "menu-photos" does not block public access: spec.forProvider.blockPublicPolicy is false, so public bucket policies are accepted`
		v.hint == "set spec.forProvider.blockPublicPolicy to true"
	}
}

test_upbound_public_access_block_flag_unset_is_denied if {
	vs := only(pab("s3.aws.upbound.io", {"forProvider": json.remove(upbound_all_blocked, ["restrictPublicBuckets", "ignorePublicAcls"])}))
	count(vs) == 2
	complete(vs)
	fields(vs) == {"spec.forProvider.restrictPublicBuckets", "spec.forProvider.ignorePublicAcls"}
	some v in vs
	v.field == "spec.forProvider.restrictPublicBuckets"
	v.message == `BucketPublicAccessBlock "menu-photos" does not block public access: spec.forProvider.restrictPublicBuckets is not set and defaults to false, so a public bucket policy gives anyone access`
	v.hint == "set spec.forProvider.restrictPublicBuckets to true"
}

test_upbound_public_access_block_reads_init_provider if {
	# A flag set only in initProvider is what the bucket gets.
	count(only(pab("s3.aws.upbound.io", {
		"forProvider": json.remove(upbound_all_blocked, ["blockPublicAcls"]),
		"initProvider": {"blockPublicAcls": true},
	}))) == 0
	fields(only(pab("s3.aws.upbound.io", {
		"forProvider": json.remove(upbound_all_blocked, ["blockPublicAcls"]),
		"initProvider": {"blockPublicAcls": false},
	}))) == {"spec.initProvider.blockPublicAcls"}

	# forProvider wins over initProvider.
	count(only(pab("s3.aws.upbound.io", {
		"forProvider": upbound_all_blocked,
		"initProvider": {"blockPublicAcls": false},
	}))) == 0
}

test_upbound_public_access_block_all_true_is_admitted if {
	count(only(pab("s3.aws.upbound.io", {"forProvider": upbound_all_blocked}))) == 0
	count(only(pab("s3.aws.m.upbound.io", {"forProvider": upbound_all_blocked}))) == 0
}

# --- Google Config Connector.

gcs_bucket(spec) := cr("storage.cnrm.cloud.google.com", "v1beta1", "StorageBucket", "menu-photos", spec)

test_gcs_bucket_without_enforced_prevention_is_denied if {
	vs := only(gcs_bucket({"location": "EU", "publicAccessPrevention": "inherited"}))
	count(vs) == 1
	complete(vs)
	some v in vs
	v.rule == "public-access-prevention"
	v.field == "spec.publicAccessPrevention"
	v.message == `StorageBucket "menu-photos" does not enforce public access prevention: spec.publicAccessPrevention is "inherited", so an allUsers or allAuthenticatedUsers grant can make it public`
	v.hint == "set spec.publicAccessPrevention to enforced"

	some w in only(gcs_bucket({"location": "EU"}))
	w.field == "spec.publicAccessPrevention"
	w.message == `StorageBucket "menu-photos" does not enforce public access prevention: spec.publicAccessPrevention is not set (inherited from the organization policy), so an allUsers or allAuthenticatedUsers grant can make it public`

	count(only(gcs_bucket({"location": "EU", "publicAccessPrevention": ""}))) == 1
	count(only(gcs_bucket({"location": "EU", "publicAccessPrevention": "Enforced"}))) == 1
}

test_gcs_bucket_with_enforced_prevention_is_admitted if {
	count(only(gcs_bucket({"location": "EU", "publicAccessPrevention": "enforced", "uniformBucketLevelAccess": true}))) == 0
}

test_gcs_access_controls_for_everyone_are_denied if {
	vs := only(cr("storage.cnrm.cloud.google.com", "v1beta1", "StorageBucketAccessControl", "menu-photos-public", {"bucketRef": {"name": "menu-photos"}, "entity": "allUsers", "role": "READER"}))
	count(vs) == 1
	complete(vs)
	some v in vs
	v.rule == "public-bucket-acl"
	v.field == "spec.entity"
	v.message == `StorageBucketAccessControl "menu-photos-public" would make its bucket public: spec.entity is allUsers, which is everyone on the internet`
	startswith(v.hint, "set spec.entity to a specific principal")

	ws := only(cr("storage.cnrm.cloud.google.com", "v1beta1", "StorageDefaultObjectAccessControl", "menu-photos-objects", {"bucketRef": {"name": "menu-photos"}, "entity": "allAuthenticatedUsers", "role": "READER"}))
	count(ws) == 1
	complete(ws)
	some w in ws
	w.rule == "public-object-acl"
	w.message == `StorageDefaultObjectAccessControl "menu-photos-objects" would make every new object in its bucket public: spec.entity is allAuthenticatedUsers, which is every signed-in Google account`
}

test_gcs_access_controls_for_principals_are_admitted if {
	every kind in ["StorageBucketAccessControl", "StorageDefaultObjectAccessControl"] {
		every entity in ["group-menu-editors@example.com", "user-ana@example.com", "project-viewers-where2eat", "domain-example.com"] {
			count(only(cr("storage.cnrm.cloud.google.com", "v1beta1", kind, "menu-photos-acl", {"bucketRef": {"name": "menu-photos"}, "entity": entity, "role": "READER"}))) == 0
		}
	}
}

iam_member(member, ref) := cr("iam.cnrm.cloud.google.com", "v1beta1", "IAMPolicyMember", "menu-photos-viewer", {"member": member, "role": "roles/storage.objectViewer", "resourceRef": ref})

test_gcs_iam_member_for_everyone_is_denied if {
	vs := only(iam_member("allUsers", {"kind": "StorageBucket", "name": "menu-photos"}))
	count(vs) == 1
	complete(vs)
	some v in vs
	v.rule == "public-iam-member"
	v.field == "spec.member"
	v.message == `IAMPolicyMember "menu-photos-viewer" would make StorageBucket "menu-photos" public: spec.member is allUsers, which is everyone on the internet, with role "roles/storage.objectViewer"`
	v.hint == "set spec.member to a specific identity (user:<email>, group:<email> or serviceAccount:<email>), not allUsers or allAuthenticatedUsers"

	some w in only(iam_member("allAuthenticatedUsers", {"kind": "StorageBucket", "external": "menu-photos-prod"}))
	w.message == `IAMPolicyMember "menu-photos-viewer" would make StorageBucket "menu-photos-prod" public: spec.member is allAuthenticatedUsers, which is every signed-in Google account, with role "roles/storage.objectViewer"`
}

test_gcs_iam_member_for_principals_or_other_resources_is_admitted if {
	count(only(iam_member("serviceAccount:orders@where2eat.iam.gserviceaccount.com", {"kind": "StorageBucket", "name": "menu-photos"}))) == 0
	count(only(iam_member("group:menu-editors@example.com", {"kind": "StorageBucket", "name": "menu-photos"}))) == 0

	# Public Cloud Run services are a normal thing; only buckets are checked.
	count(only(iam_member("allUsers", {"kind": "RunService", "name": "menu"}))) == 0
}

test_gcs_iam_policy_bindings_for_everyone_are_denied if {
	vs := only(cr("iam.cnrm.cloud.google.com", "v1beta1", "IAMPolicy", "menu-photos-policy", {
		"resourceRef": {"kind": "StorageBucket", "name": "menu-photos"},
		"bindings": [
			{"role": "roles/storage.admin", "members": ["group:menu-editors@example.com"]},
			{"role": "roles/storage.objectViewer", "members": ["user:ana@example.com", "allUsers"]},
		],
	}))
	count(vs) == 1
	complete(vs)
	some v in vs
	v.rule == "public-iam-member"
	v.field == "spec.bindings[1].members[1]"
	v.message == `IAMPolicy "menu-photos-policy" would make StorageBucket "menu-photos" public: spec.bindings[1].members[1] is allUsers, which is everyone on the internet, with role "roles/storage.objectViewer"`
	v.hint == "set spec.bindings[1].members[1] to a specific identity (user:<email>, group:<email> or serviceAccount:<email>), not allUsers or allAuthenticatedUsers"

	ws := only(cr("iam.cnrm.cloud.google.com", "v1beta1", "IAMPartialPolicy", "menu-photos-partial", {
		"resourceRef": {"kind": "StorageBucket", "name": "menu-photos"},
		"bindings": [{"role": "roles/storage.objectViewer", "members": [{"memberFrom": {"serviceAccountRef": {"name": "orders"}}}, {"member": "allAuthenticatedUsers"}]}],
	}))
	count(ws) == 1
	complete(ws)
	fields(ws) == {"spec.bindings[0].members[1].member"}
}

test_gcs_iam_policies_for_principals_are_admitted if {
	count(only(cr("iam.cnrm.cloud.google.com", "v1beta1", "IAMPolicy", "menu-photos-policy", {
		"resourceRef": {"kind": "StorageBucket", "name": "menu-photos"},
		"bindings": [{"role": "roles/storage.objectViewer", "members": ["group:menu-editors@example.com"]}],
	}))) == 0
	count(only(cr("iam.cnrm.cloud.google.com", "v1beta1", "IAMPartialPolicy", "menu-photos-partial", {
		"resourceRef": {"kind": "StorageBucket", "name": "menu-photos"},
		"bindings": [{"role": "roles/storage.objectViewer", "members": [{"member": "user:ana@example.com"}]}],
	}))) == 0
	count(only(cr("iam.cnrm.cloud.google.com", "v1beta1", "IAMPolicy", "menu-policy", {
		"resourceRef": {"kind": "RunService", "name": "menu"},
		"bindings": [{"role": "roles/run.invoker", "members": ["allUsers"]}],
	}))) == 0
}

# --- Azure Service Operator v2.

test_azure_account_allowing_public_blobs_is_denied if {
	vs := only(cr("storage.azure.com", "v20250601", "StorageAccount", "where2eatmenu", {"location": "westeurope", "kind": "StorageV2", "sku": {"name": "Standard_LRS"}, "owner": {"name": "where2eat"}, "allowBlobPublicAccess": true}))
	count(vs) == 1
	complete(vs)
	some v in vs
	v.rule == "public-blob-access"
	v.field == "spec.allowBlobPublicAccess"
	v.message == `StorageAccount "where2eatmenu" allows public blob access: spec.allowBlobPublicAccess is true, so its containers can be opened to anonymous readers`
	v.hint == "set spec.allowBlobPublicAccess to false"

	# Every served version is checked.
	count(only(cr("storage.azure.com", "v1api20230101", "StorageAccount", "where2eatmenu", {"allowBlobPublicAccess": true}))) == 1
}

test_azure_account_without_public_blobs_is_admitted if {
	count(only(cr("storage.azure.com", "v20250601", "StorageAccount", "where2eatmenu", {"location": "westeurope", "allowBlobPublicAccess": false}))) == 0
	count(only(cr("storage.azure.com", "v20250601", "StorageAccount", "where2eatmenu", {"location": "westeurope"}))) == 0
}

test_azure_public_container_is_denied if {
	every access in ["Blob", "Container"] {
		vs := only(cr("storage.azure.com", "v20250601", "StorageAccountsBlobServicesContainer", "menu-photos", {"owner": {"name": "where2eatmenu-blob"}, "publicAccess": access}))
		count(vs) == 1
		complete(vs)
		some v in vs
		v.rule == "public-blob-access"
		v.field == "spec.publicAccess"
		v.hint == "set spec.publicAccess to None"
	}
	some v in only(cr("storage.azure.com", "v20250601", "StorageAccountsBlobServicesContainer", "menu-photos", {"publicAccess": "Container"}))
	v.message == `StorageAccountsBlobServicesContainer "menu-photos" would be public: spec.publicAccess is "Container", which lets anyone list and read its blobs without signing in`
}

test_azure_private_container_is_admitted if {
	count(only(cr("storage.azure.com", "v20250601", "StorageAccountsBlobServicesContainer", "menu-photos", {"owner": {"name": "where2eatmenu-blob"}, "publicAccess": "None"}))) == 0
	count(only(cr("storage.azure.com", "v20250601", "StorageAccountsBlobServicesContainer", "menu-photos", {"owner": {"name": "where2eatmenu-blob"}}))) == 0
}

# --- Scope: same-named kinds of other groups, and objects without a spec.

test_same_kinds_in_other_groups_are_not_checked if {
	count(only(cr("example.com", "v1", "Bucket", "menu-photos", {"acl": "public-read", "publicAccessBlock": {"blockPublicACLs": false}}))) == 0
	count(only(cr("example.com", "v1", "StorageBucket", "menu-photos", {}))) == 0
	count(only(cr("example.com", "v1", "StorageAccount", "menu-photos", {"allowBlobPublicAccess": true}))) == 0
	count(only(cr("example.com", "v1", "BucketPublicAccessBlock", "menu-photos", {"forProvider": {}}))) == 0
}

test_objects_without_spec_do_not_break_the_policy if {
	every kind in [["s3.services.k8s.aws", "Bucket"], ["s3.aws.upbound.io", "BucketACL"], ["storage.azure.com", "StorageAccount"], ["iam.cnrm.cloud.google.com", "IAMPolicy"]] {
		inp := json.remove(cr(kind[0], "v1", kind[1], "menu-photos", {}), ["object/spec"])
		count(only(inp)) == 0
	}

	# A StorageBucket without spec does not enforce public access prevention,
	# and a BucketPublicAccessBlock without spec blocks nothing.
	rules(only(json.remove(gcs_bucket({}), ["object/spec"]))) == {"public-access-prevention"}
	count(only(json.remove(pab("s3.aws.upbound.io", {}), ["object/spec"]))) == 4
}

test_malformed_objects_do_not_break_the_policy if {
	every kind in [["s3.services.k8s.aws", "Bucket"], ["s3.aws.upbound.io", "BucketACL"], ["s3.aws.upbound.io", "BucketPublicAccessBlock"], ["storage.cnrm.cloud.google.com", "StorageBucket"], ["iam.cnrm.cloud.google.com", "IAMPolicy"], ["storage.azure.com", "StorageAccount"]] {
		inp := cr(kind[0], "v1", kind[1], "menu-photos", "not an object")
		is_set(only(inp))
	}
	vs := only(cr("iam.cnrm.cloud.google.com", "v1beta1", "IAMPolicy", "menu-photos-policy", {
		"resourceRef": {"kind": "StorageBucket", "name": "menu-photos"},
		"bindings": ["allUsers", {"members": ["allUsers"]}, {"role": 7, "members": "allUsers"}],
	}))
	fields(vs) == {"spec.bindings[1].members[0]"}
	some v in vs
	endswith(v.message, `with role ""`)
	count(only(ack_bucket({"acl": 7, "grantRead": ["uri=http://acs.amazonaws.com/groups/global/AllUsers"], "publicAccessBlock": "off"}))) == 0
}
