curl --request GET 'https://api.portkey.ai/v1/prompts?workspace_id=6f1c2b7e-3d4a-4b5c-9e8f-0a1b2c3d4e5f&page_size=50' \
--header 'x-portkey-api-key: Zq8Rt5Wm2Np7Ks4Lx9Hv3Jb6Gd1Fc0Aa'

HTTP/2 403
content-type: application/json; charset=utf-8
x-portkey-trace-id: 0b7d9c3e-5a21-4f6e-8d4c-2e9f1a7b6c50

{"success":false,"data":{"message":"User not allowed to access the resource","errorCode":"AB03"}}
