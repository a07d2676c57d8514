//! macOS: managed preferences, which a configuration profile installs for the domain
//! [`MACOS_BUNDLE_ID`] (assets/macos/signin-assistant.mobileconfig is an example). Only values
//! macOS reports as forced (managed) count; the user's own defaults for the domain do not.
//!
//! Compiled in CI for aarch64-apple-darwin; never run.

use core_foundation::array::CFArray;
use core_foundation::base::{CFType, TCFType};
use core_foundation::boolean::CFBoolean;
use core_foundation::number::CFNumber;
use core_foundation::string::CFString;
use core_foundation_sys::preferences::{CFPreferencesAppValueIsForced, CFPreferencesCopyAppValue};

use super::{AdminPolicy, PolicyReadError, PolicySetting, PolicyValue, MAPPINGS};
use crate::system::paths::MACOS_BUNDLE_ID;

/// The managed value of every known policy name.
pub fn read() -> Result<AdminPolicy, PolicyReadError> {
    let source = format!("managed preferences {MACOS_BUNDLE_ID}");
    let domain = CFString::new(MACOS_BUNDLE_ID);
    let mut settings = Vec::new();
    for mapping in MAPPINGS {
        let name = CFString::new(mapping.name);
        // SAFETY: both strings are valid CFStrings for the duration of the calls.
        let forced = unsafe {
            CFPreferencesAppValueIsForced(name.as_concrete_TypeRef(), domain.as_concrete_TypeRef())
        };
        if forced == 0 {
            continue;
        }
        // SAFETY: as above; a non-null result is a +1 reference (the Copy rule), owned below.
        let raw = unsafe {
            CFPreferencesCopyAppValue(name.as_concrete_TypeRef(), domain.as_concrete_TypeRef())
        };
        if raw.is_null() {
            continue;
        }
        // SAFETY: `raw` is a CFPropertyListRef we own.
        let value = unsafe { CFType::wrap_under_create_rule(raw) };
        settings.push(PolicySetting {
            name: mapping.name.to_string(),
            value: policy_value(&value),
            location: format!("{source}: {}", mapping.name),
        });
    }
    Ok(AdminPolicy { source, settings })
}

/// A property-list value as a policy value: strings, integers, booleans and arrays of strings.
fn policy_value(value: &CFType) -> PolicyValue {
    if let Some(text) = value.downcast::<CFString>() {
        PolicyValue::Text(text.to_string())
    } else if let Some(array) = value.downcast::<CFArray>() {
        strings(&array)
    } else if let Some(flag) = value.downcast::<CFBoolean>() {
        PolicyValue::Number(i64::from(bool::from(flag)))
    } else if let Some(number) = value.downcast::<CFNumber>() {
        // The conversion fails when it would lose something (a real number such as 2.5).
        number
            .to_i64()
            .map(PolicyValue::Number)
            .unwrap_or_else(|| PolicyValue::Unsupported("a real number".into()))
    } else {
        PolicyValue::Unsupported(
            "a property-list type other than string, integer, boolean or array".into(),
        )
    }
}

/// A property-list array as a list, when every element is a string.
fn strings(array: &CFArray) -> PolicyValue {
    let mut texts = Vec::new();
    for item in array.get_all_values() {
        // SAFETY: the elements of a property-list array are Core Foundation objects, alive as
        // long as the array; the get rule takes a reference of our own.
        let item = unsafe { CFType::wrap_under_get_rule(item) };
        match item.downcast::<CFString>() {
            Some(text) => texts.push(text.to_string()),
            None => {
                return PolicyValue::Unsupported(
                    "an array with an element other than a string".into(),
                )
            }
        }
    }
    PolicyValue::List(texts)
}
