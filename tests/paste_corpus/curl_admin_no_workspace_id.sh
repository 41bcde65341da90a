curl -s https://api.portkey.ai/v1/configs -H "x-portkey-api-key: $PORTKEY_ADMIN_KEY" | jq
{
  "success": false,
  "data": {
    "message": "You do not have enough permissions to execute this request",
    "errorCode": "AB03"
  }
}
