# METADATA
# title: Public storage
# description: |
#   PersistentVolumeClaims must not land on storage that others can read: a
#   storage class listed in publicStorageClasses, or one whose StorageClass
#   carries the annotation microguard.io/public: "true". A claim that names
#   no class is judged by the cluster's default class. Object-storage custom
#   resources that grant public access follow in a later release.
# custom:
#   id: public-storage
#   defaultAction: deny
#   options:
#     publicStorageClasses:
#       type: stringList
#       default: []
#       description: storage classes whose volumes are public (shared or world-readable)
package microguard.policies.public_storage

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
	is_claim
	named
	count(why) > 0
}

violation contains {
	"rule": "public-storage-class",
	"message": sprintf("PersistentVolumeClaim %q names no storage class, so it gets the cluster default %q, which is public: %s", [input.name, class, concat("; ", sort(why))]),
	"field": "spec.storageClassName",
	"hint": sprintf("set spec.storageClassName to a private storage class (the default, %q, is public)", [class]),
} if {
	is_claim
	not named
	count(why) > 0
}
