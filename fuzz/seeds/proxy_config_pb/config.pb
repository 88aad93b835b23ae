#spiffe://mesh.local/ns/local/sa/web*|
api127.0.0.1:9000http"=
v1d5
127.0.0.1:4143#spiffe://mesh.local/ns/local/sa/api¢GET"
x-canary1*v10ô¨Ð¢.
,
!spiffe://mesh.local/ns/local/sa/*/api/