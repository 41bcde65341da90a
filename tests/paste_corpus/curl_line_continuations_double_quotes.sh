$ curl -X POST https://api.portkey.ai/v1/chat/completions \
    -H "Content-Type: application/json" \
    -H "x-portkey-api-key: pk7Hq2mZp9Xw4Lr8Tn3Vb6Yc1Kd5Fg0" \
    -H "x-portkey-virtual-key: openai-prod-7f3a" \
    -d '{
      "model": "gpt-4o-mini",
      "messages": [{"role": "user", "content": "Say hello"}]
    }'
{"success":false,"data":{"message":"You do not have enough permissions to execute this request","errorCode":"AB03"}}
