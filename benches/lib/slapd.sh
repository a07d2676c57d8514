#!/bin/bash
# A throwaway OpenLDAP server with the password-policy overlay for the benchmarks, all its files
# in DIR: the default policy (90 days, warning from 14 days before), and one person,
# uid=bench,ou=people,dc=example,dc=com, whose password was changed 80 days ago (10 days left).
# The person's password is read from stdin (never argv). Prints the server's URL once it answers.
#   slapd.sh DIR PORT < password
set -euo pipefail
d=$1 port=$2 suffix=dc=example,dc=com root=cn=admin,dc=example,dc=com rootpw=bench-root
read -r password
mkdir -p "$d/slapd.d" "$d/db"
cat > "$d/config.ldif" <<LDIF
dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: $d/slapd.pid
olcArgsFile: $d/slapd.args

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: ppolicy

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file:///etc/ldap/schema/core.ldif

include: file:///etc/ldap/schema/cosine.ldif

include: file:///etc/ldap/schema/inetorgperson.ldif

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcDbDirectory: $d/db
olcSuffix: $suffix
olcRootDN: $root
olcRootPW: $rootpw
olcDbMaxSize: 104857600
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to dn.subtree="ou=policies,$suffix" by users read by * none
olcAccess: {2}to * by self read by * none

dn: olcOverlay={0}ppolicy,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {0}ppolicy
olcPPolicyDefault: cn=default,ou=policies,$suffix
olcPPolicyHashCleartext: TRUE
LDIF
slapadd -n0 -F "$d/slapd.d" -l "$d/config.ldif" >/dev/null 2>&1
slapd -F "$d/slapd.d" -h "ldap://127.0.0.1:$port/"
url=ldap://127.0.0.1:$port
for _ in $(seq 100); do
  ldapwhoami -x -H "$url" >/dev/null 2>&1 && break
  sleep 0.05
done
changed=$(date -u -d '80 days ago' +%Y%m%d%H%M%SZ)
ldapadd -x -H "$url" -D "$root" -y <(printf %s "$rootpw") >/dev/null <<LDIF
dn: $suffix
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,$suffix
objectClass: organizationalUnit
ou: people

dn: ou=policies,$suffix
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,$suffix
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMaxAge: 7776000
pwdExpireWarning: 1209600
pwdGraceAuthNLimit: 0

dn: uid=bench,ou=people,$suffix
objectClass: inetOrgPerson
uid: bench
cn: bench
sn: bench
userPassword: $password
LDIF
ldapmodify -x -H "$url" -D "$root" -y <(printf %s "$rootpw") -e relax >/dev/null <<LDIF
dn: uid=bench,ou=people,$suffix
changetype: modify
replace: pwdChangedTime
pwdChangedTime: $changed
LDIF
echo "$url"
