# METADATA
# title: Public storage
# description: |
#   PersistentVolumeClaims must not land on storage that others can read: a
#   storage class listed in publicStorageClasses, or one whose StorageClass
#   carries the annotation microguard.io/public: "true". A claim that names
#   no class is judged by the cluster's default class.
#
#   Object-storage custom resources must not grant public access:
#   AWS ACK Buckets (s3.services.k8s.aws) with a public canned ACL, a grant to
#   the AllUsers or AuthenticatedUsers group, or a publicAccessBlock flag set
#   to false; Crossplane (Upbound) BucketACLs with a public ACL or grant, and
#   BucketPublicAccessBlocks that leave a flag false or unset (it defaults to
#   false), in s3.aws.upbound.io and s3.aws.m.upbound.io; Config Connector
#   StorageBuckets that do not enforce public access prevention, bucket and
#   default object access controls for allUsers or allAuthenticatedUsers, and
#   IAMPolicyMember, IAMPolicy and IAMPartialPolicy bindings of those members
#   on a StorageBucket; Azure Service Operator StorageAccounts with
#   allowBlobPublicAccess: true and blob containers with publicAccess Blob or
#   Container.
# custom:
#   id: public-storage
#   defaultAction: deny
#   options:
#     publicStorageClasses:
#       type: stringList
#       default: []
#       description: storage classes whose volumes are public (shared or world-readable)
package microguard.policies.public_storage

import data.microguard.lib

params := data.microguard.config.policies["public-storage"]

public_annotation := "microguard.io/public"

is_claim if {
	input.kind.group == ""
	input.kind.kind == "PersistentVolumeClaim"
}

# class is the storage class the claim gets: the one it names, else the
# cluster default (input.storageClass, when known).
class := input.storageClass.name if input.storageClass.name

class := input.object.spec.storageClassName if {
	not input.storageClass.name
	input.object.spec.storageClassName != ""
}

why contains sprintf("storage class %q is listed in publicStorageClasses", [class]) if class in params.publicStorageClasses

why contains sprintf("storage class %q is annotated %s: \"true\"", [class, public_annotation]) if {
	input.storageClass.annotations[public_annotation] == "true"
}

named if input.object.spec.storageClassName

violation contains {
	"rule": "public-storage-class",
	"message": sprintf("PersistentVolumeClaim %q would store its data publicly: %s", [input.name, concat("; ", sort(why))]),
	"field": "spec.storageClassName",
	"hint": sprintf("set spec.storageClassName to a private storage class (not %q)", [class]),
} if {
	input.kind.kind == "PersistentVolumeClaim"
	input.kind.group == ""
	named
	count(why) > 0
}

violation contains {
	"rule": "public-storage-class",
	"message": sprintf("PersistentVolumeClaim %q names no storage class, so it gets the cluster default %q, which is public: %s", [input.name, class, concat("; ", sort(why))]),
	"field": "spec.storageClassName",
	"hint": sprintf("set spec.storageClassName to a private storage class (the default, %q, is public)", [class]),
} if {
	input.kind.kind == "PersistentVolumeClaim"
	input.kind.group == ""
	not named
	count(why) > 0
}

# ---------------------------------------------------------------------------
# Object-storage custom resources. Each check reads the fields of the CRD as
# its project publishes it; the kind is matched by group and kind, in every
# version.

is_kind(groups, kind) if {
	input.kind.group in groups
	input.kind.kind == kind
}

# spec is the object's spec; one that is not an object (the API server refuses
# it, microguard check may not) has no fields to read.
spec := s if {
	s := object.get(input.object, "spec", {})
	is_object(s)
} else := {}

# path turns a path from walk into field syntax under prefix: grant[0].grantee.uri.
path(prefix, p) := concat("", array.concat([prefix], [seg | some k in p; seg := segment(k)]))

segment(k) := sprintf("[%d]", [k]) if is_number(k)

segment(k) := lib.key(k) if is_string(k)

# --- AWS S3: canned ACLs and the global groups that make a grant public.

public_canned_acls := {
	"public-read": "grants read access to everyone (AllUsers)",
	"public-read-write": "grants read and write access to everyone (AllUsers)",
	"authenticated-read": "grants read access to every AWS account (AuthenticatedUsers)",
}

public_groups := {
	"http://acs.amazonaws.com/groups/global/AllUsers": "everyone (AllUsers)",
	"http://acs.amazonaws.com/groups/global/AuthenticatedUsers": "every AWS account (AuthenticatedUsers)",
}

# names_group holds when grantee text s names the global group uri, without
# regard to case or scheme, so uri="http://…/AllUsers" in a grant header does.
names_group(s, uri) if {
	is_string(s)
	contains(lower(s), lower(trim_prefix(uri, "http://")))
}

# AWS Controllers for Kubernetes: s3.services.k8s.aws Bucket.
ack_s3 := {"s3.services.k8s.aws"}

ack_grants := {
	"grantFullControl": "FULL_CONTROL",
	"grantRead": "READ",
	"grantReadACP": "READ_ACP",
	"grantWrite": "WRITE",
	"grantWriteACP": "WRITE_ACP",
}

violation contains {
	"rule": "public-bucket-acl",
	"message": sprintf("%s would be public: spec.acl is the canned ACL %q, which %s", [lib.describe, acl, public_canned_acls[acl]]),
	"field": "spec.acl",
	"hint": "set spec.acl to private",
} if {
	input.kind.kind == "Bucket"
	input.kind.group in ack_s3
	acl := spec.acl
	public_canned_acls[acl]
}

violation contains {
	"rule": "public-bucket-acl",
	"message": sprintf("%s would be public: spec.%s grants %s to %s", [lib.describe, field, permission, public_groups[uri]]),
	"field": sprintf("spec.%s", [field]),
	"hint": sprintf("remove the grantee uri=%s from spec.%s; grant only to specific accounts (id=… or emailAddress=…)", [uri, field]),
} if {
	input.kind.kind == "Bucket"
	input.kind.group in ack_s3
	some field, permission in ack_grants
	some uri, _ in public_groups
	names_group(spec[field], uri)
}

ack_block_flags := {
	"blockPublicACLs": "new public ACLs are accepted",
	"ignorePublicACLs": "public ACLs take effect",
	"blockPublicPolicy": "public bucket policies are accepted",
	"restrictPublicBuckets": "a public bucket policy gives anyone access",
}

violation contains {
	"rule": "public-access-block",
	"message": sprintf("%s does not block public access: %s is false, so %s", [lib.describe, field, effect]),
	"field": field,
	"hint": sprintf("set %s to true", [field]),
} if {
	input.kind.kind == "Bucket"
	input.kind.group in ack_s3
	some flag, effect in ack_block_flags
	spec.publicAccessBlock[flag] == false
	field := sprintf("spec.publicAccessBlock.%s", [flag])
}

# Crossplane provider-upjet-aws: BucketACL and BucketPublicAccessBlock, both
# the cluster-scoped (s3.aws.upbound.io) and the namespaced (s3.aws.m.upbound.io)
# groups. initProvider is merged into forProvider when the bucket is created,
# so both are read.
upbound_s3 := {"s3.aws.upbound.io", "s3.aws.m.upbound.io"}

provider_sections := ["forProvider", "initProvider"]

violation contains {
	"rule": "public-bucket-acl",
	"message": sprintf("%s would make its bucket public: %s is the canned ACL %q, which %s", [lib.describe, field, acl, public_canned_acls[acl]]),
	"field": field,
	"hint": sprintf("set %s to private", [field]),
} if {
	input.kind.kind == "BucketACL"
	input.kind.group in upbound_s3
	some section in provider_sections
	acl := spec[section].acl
	public_canned_acls[acl]
	field := sprintf("spec.%s.acl", [section])
}

# accessControlPolicy is an object in v1beta2 and in s3.aws.m.upbound.io, and
# a list (with grantee lists) in v1beta1: every uri under it is looked at.
violation contains {
	"rule": "public-bucket-acl",
	"message": sprintf("%s would make its bucket public: %s grants access to %s", [lib.describe, field, public_groups[uri]]),
	"field": field,
	"hint": sprintf("remove the grant whose grantee uri is %s from spec.%s.accessControlPolicy; grant only to specific accounts (type: CanonicalUser)", [uri, section]),
} if {
	input.kind.kind == "BucketACL"
	input.kind.group in upbound_s3
	some section in provider_sections
	walk(spec[section].accessControlPolicy, [p, v])
	count(p) > 0
	p[count(p) - 1] == "uri"
	some uri, _ in public_groups
	names_group(v, uri)
	field := path(sprintf("spec.%s.accessControlPolicy", [section]), p)
}

upbound_block_flags := {
	"blockPublicAcls": "new public ACLs are accepted",
	"ignorePublicAcls": "public ACLs take effect",
	"blockPublicPolicy": "public bucket policies are accepted",
	"restrictPublicBuckets": "a public bucket policy gives anyone access",
}

# The provider documents every flag as "Defaults to false": a flag left out
# of a BucketPublicAccessBlock turns that protection off.
violation contains {
	"rule": "public-access-block",
	"message": sprintf("%s does not block public access: %s is %s, so %s", [lib.describe, field, json.marshal(value), effect]),
	"field": field,
	"hint": sprintf("set %s to true", [field]),
} if {
	input.kind.kind == "BucketPublicAccessBlock"
	input.kind.group in upbound_s3
	some flag, effect in upbound_block_flags
	some section in provider_sections
	value := spec[section][flag]
	value != true
	not set_true_in_for_provider(flag)
	field := sprintf("spec.%s.%s", [section, flag])
}

violation contains {
	"rule": "public-access-block",
	"message": sprintf("%s does not block public access: spec.forProvider.%s is not set and defaults to false, so %s", [lib.describe, flag, effect]),
	"field": sprintf("spec.forProvider.%s", [flag]),
	"hint": sprintf("set spec.forProvider.%s to true", [flag]),
} if {
	input.kind.kind == "BucketPublicAccessBlock"
	input.kind.group in upbound_s3
	some flag, effect in upbound_block_flags
	every section in provider_sections {
		not has_key(object.get(spec, section, {}), flag)
	}
}

set_true_in_for_provider(flag) if spec.forProvider[flag] == true

has_key(obj, k) if {
	is_object(obj)
	_ = obj[k]
}

# --- Google Cloud Storage (Config Connector).

kcc_storage := {"storage.cnrm.cloud.google.com"}

kcc_iam := {"iam.cnrm.cloud.google.com"}

public_members := {
	"allUsers": "everyone on the internet",
	"allAuthenticatedUsers": "every signed-in Google account",
}

# Without publicAccessPrevention: enforced, a bucket follows the organization
# policy (inherited, also when the field is left out), and one allUsers grant,
# from any tool and not only from this cluster, makes it public.
violation contains {
	"rule": "public-access-prevention",
	"message": sprintf("%s does not enforce public access prevention: spec.publicAccessPrevention is %s, so an allUsers or allAuthenticatedUsers grant can make it public", [lib.describe, prevention_state]),
	"field": "spec.publicAccessPrevention",
	"hint": "set spec.publicAccessPrevention to enforced",
} if {
	input.kind.kind == "StorageBucket"
	input.kind.group in kcc_storage
	object.get(spec, "publicAccessPrevention", "") != "enforced"
}

prevention_state := json.marshal(spec.publicAccessPrevention) if {
	spec.publicAccessPrevention != ""
} else := "not set (inherited from the organization policy)"

# Each access-control kind is named in its own rule, so OPA's rule index
# skips both for every other kind.
violation contains public_entity("public-bucket-acl", "its bucket") if {
	input.kind.kind == "StorageBucketAccessControl"
	input.kind.group in kcc_storage
	public_members[spec.entity]
}

violation contains public_entity("public-object-acl", "every new object in its bucket") if {
	input.kind.kind == "StorageDefaultObjectAccessControl"
	input.kind.group in kcc_storage
	public_members[spec.entity]
}

public_entity(rule, what) := {
	"rule": rule,
	"message": sprintf("%s would make %s public: spec.entity is %s, which is %s", [lib.describe, what, spec.entity, public_members[spec.entity]]),
	"field": "spec.entity",
	"hint": "set spec.entity to a specific principal (user-<email>, group-<email>, domain-<domain> or project-<team>-<project>), not allUsers or allAuthenticatedUsers",
}

# IAM bindings on a bucket: IAMPolicyMember (one member), IAMPolicy (the whole
# policy) and IAMPartialPolicy (some bindings).
on_bucket if spec.resourceRef.kind == "StorageBucket"

bucket_ref := sprintf("StorageBucket %q", [spec.resourceRef.name]) if {
	spec.resourceRef.name
} else := sprintf("StorageBucket %q", [spec.resourceRef.external]) if {
	spec.resourceRef.external
} else := "its StorageBucket"

# role is the role of an IAM binding (or of an IAMPolicyMember's spec).
role(b) := r if {
	r := b.role
	is_string(r)
} else := ""

iam_member_hint(field) := sprintf("set %s to a specific identity (user:<email>, group:<email> or serviceAccount:<email>), not allUsers or allAuthenticatedUsers", [field])

violation contains {
	"rule": "public-iam-member",
	"message": sprintf("%s would make %s public: spec.member is %s, which is %s, with role %q", [lib.describe, bucket_ref, member, public_members[member], role(spec)]),
	"field": "spec.member",
	"hint": iam_member_hint("spec.member"),
} if {
	input.kind.kind == "IAMPolicyMember"
	input.kind.group in kcc_iam
	on_bucket
	member := spec.member
	public_members[member]
}

violation contains {
	"rule": "public-iam-member",
	"message": sprintf("%s would make %s public: %s is %s, which is %s, with role %q", [lib.describe, bucket_ref, field, member, public_members[member], role(binding)]),
	"field": field,
	"hint": iam_member_hint(field),
} if {
	input.kind.kind == "IAMPolicy"
	input.kind.group in kcc_iam
	on_bucket
	some i, binding in spec.bindings
	some j, member in binding.members
	public_members[member]
	field := sprintf("spec.bindings[%d].members[%d]", [i, j])
}

violation contains {
	"rule": "public-iam-member",
	"message": sprintf("%s would make %s public: %s is %s, which is %s, with role %q", [lib.describe, bucket_ref, field, member, public_members[member], role(binding)]),
	"field": field,
	"hint": iam_member_hint(field),
} if {
	input.kind.kind == "IAMPartialPolicy"
	input.kind.group in kcc_iam
	on_bucket
	some i, binding in spec.bindings
	some j, m in binding.members
	member := m.member
	public_members[member]
	field := sprintf("spec.bindings[%d].members[%d].member", [i, j])
}

# --- Azure Blob Storage (Azure Service Operator v2).

aso_storage := {"storage.azure.com"}

violation contains {
	"rule": "public-blob-access",
	"message": sprintf("%s allows public blob access: spec.allowBlobPublicAccess is true, so its containers can be opened to anonymous readers", [lib.describe]),
	"field": "spec.allowBlobPublicAccess",
	"hint": "set spec.allowBlobPublicAccess to false",
} if {
	input.kind.kind == "StorageAccount"
	input.kind.group in aso_storage
	spec.allowBlobPublicAccess == true
}

public_container_access := {
	"Blob": "lets anyone read its blobs without signing in",
	"Container": "lets anyone list and read its blobs without signing in",
}

violation contains {
	"rule": "public-blob-access",
	"message": sprintf("%s would be public: spec.publicAccess is %q, which %s", [lib.describe, access, public_container_access[access]]),
	"field": "spec.publicAccess",
	"hint": "set spec.publicAccess to None",
} if {
	input.kind.kind == "StorageAccountsBlobServicesContainer"
	input.kind.group in aso_storage
	access := spec.publicAccess
	public_container_access[access]
}
