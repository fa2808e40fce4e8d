"""Messages of the login page and account area (keys start with 'auth.'); merged into bizenv.i18n.MESSAGES."""

MESSAGES: dict[str, dict[str, str]] = {
    "auth.title": {"zh": "登录", "en": "Sign in"},
    "auth.subtitle": {"zh": "请使用本单位分配的账号登录", "en": "Sign in with the account your bureau gave you"},
    "auth.username": {"zh": "用户名", "en": "Username"},
    "auth.password": {"zh": "密码", "en": "Password"},
    "auth.submit": {"zh": "登录", "en": "Sign in"},
    "auth.logout": {"zh": "退出登录", "en": "Sign out"},
    "auth.error.invalid": {"zh": "用户名或密码不正确", "en": "Wrong username or password"},
    "auth.error.locked": {"zh": "登录失败次数过多，账号已锁定 {minutes} 分钟", "en": "Too many failed sign-ins: the account is locked for {minutes} minutes"},
    "auth.error.rate_limited": {"zh": "登录尝试过于频繁，请稍后再试", "en": "Too many sign-in attempts; please wait a minute"},
    "auth.error.csrf": {"zh": "页面已过期，请重新登录", "en": "The form expired; please sign in again"},
}
