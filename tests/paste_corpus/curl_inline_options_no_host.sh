curl -XPOST -H'Authorization: Bearer pk-Xy7Qw3Er9Ty5Ui1Op4As8Df2Gh6Jk' -H'Content-Type: application/json' "$PORTKEY_BASE_URL/embeddings" -d'{"model":"text-embedding-3-small","input":"hello"}'
HTTP/1.1 403 Forbidden
x-portkey-trace-id: 4c1e8a90-77d2-4b3f-a5e6-19c0d2f3b8a7
{"success":false,"data":{"message":"You do not have enough permissions to execute this request","errorCode":"AB03"}}
