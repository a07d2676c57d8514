//! Which directory server answers, from what its root DSE says about itself: Active Directory
//! (and Samba) announce their capability OID, OpenLDAP its own root DSE object class, 389
//! Directory Server (and FreeIPA and Red Hat Directory Server, built on it) its vendor. Pure: the
//! setup's first look and a check with `flavor = "auto"` read the same attributes and ask here.

use crate::system::config::LdapFlavor;

/// Root DSE `supportedCapabilities` value of Active Directory (Samba announces it too).
pub const AD_CAPABILITY_OID: &str = "1.2.840.113556.1.4.800";
/// The root DSE attributes [`flavor`] looks at.
pub const ROOT_DSE_ATTRIBUTES: [&str; 4] = [
    "supportedCapabilities",
    "objectClass",
    "vendorName",
    "vendorVersion",
];

/// What a root DSE says, attribute by attribute (values as sent; missing ones empty).
#[derive(Debug, Clone, Copy, Default)]
pub struct RootDse<'a> {
    pub capabilities: &'a [String],
    pub object_classes: &'a [String],
    pub vendor_names: &'a [String],
    pub vendor_versions: &'a [String],
}

/// The flavor the root DSE announces; `None` when it does not say.
pub fn flavor(root: &RootDse) -> Option<LdapFlavor> {
    let any = |values: &[String], wanted: &dyn Fn(&str) -> bool| values.iter().any(|v| wanted(v));
    if any(root.capabilities, &|c| c == AD_CAPABILITY_OID) {
        return Some(LdapFlavor::ActiveDirectory);
    }
    let is_389 = any(root.vendor_names, &|name| {
        name.trim().eq_ignore_ascii_case("389 Project")
    }) || any(root.vendor_versions, &|version| {
        ["389-Directory/", "Red Hat-Directory/"]
            .iter()
            .any(|prefix| version.starts_with(prefix))
    });
    if is_389 {
        return Some(LdapFlavor::Ds389);
    }
    if any(root.object_classes, &|c| {
        c.eq_ignore_ascii_case("OpenLDAProotDSE")
    }) {
        return Some(LdapFlavor::Openldap);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    /// A root DSE's supportedCapabilities, objectClass, vendorName and vendorVersion.
    type Answer<'a> = [&'a [&'a str]; 4];

    #[test]
    fn root_dse_answers() {
        let table: [(&str, Answer, Option<LdapFlavor>); 8] = [
            (
                "389-ds 2.3 (Debian 12)",
                [
                    &[],
                    &["top"],
                    &["389 Project"],
                    &["389-Directory/2.3.1 B2025.016.1616"],
                ],
                Some(LdapFlavor::Ds389),
            ),
            (
                "FreeIPA's 389-ds, vendor name only",
                [&[], &["top"], &["389 Project"], &[]],
                Some(LdapFlavor::Ds389),
            ),
            (
                "Red Hat Directory Server",
                [
                    &[],
                    &["top"],
                    &["Red Hat, Inc."],
                    &["Red Hat-Directory/11.7.0"],
                ],
                Some(LdapFlavor::Ds389),
            ),
            (
                "Active Directory",
                [
                    &["1.2.840.113556.1.4.800", "1.2.840.113556.1.4.1670"],
                    &["top"],
                    &[],
                    &[],
                ],
                Some(LdapFlavor::ActiveDirectory),
            ),
            (
                "OpenLDAP",
                [&[], &["top", "OpenLDAProotDSE"], &[], &[]],
                Some(LdapFlavor::Openldap),
            ),
            ("nothing said", [&[], &[], &[], &[]], None),
            (
                "another vendor",
                [&[], &["top"], &["Example Corp"], &["Directory/1.0"]],
                None,
            ),
            (
                "a vendor name in a longer text is not the vendor",
                [&[], &[], &["not the 389 Project"], &[]],
                None,
            ),
        ];
        for (name, [caps, classes, names, versions], want) in table {
            let (caps, classes, names, versions) = (
                strings(caps),
                strings(classes),
                strings(names),
                strings(versions),
            );
            let root = RootDse {
                capabilities: &caps,
                object_classes: &classes,
                vendor_names: &names,
                vendor_versions: &versions,
            };
            assert_eq!(flavor(&root), want, "{name}");
        }
    }
}
