"""One error tree for the whole system: every error carries a reason code users see."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Verdict(StrEnum):
    """What the gate shows: let in, keep out, or send to a person (medical staff, supervisor)."""

    ADMIT = "admit"
    DENY = "deny"
    REFER = "refer"


class Reason(StrEnum):
    """Reason codes: the words on the gate screen, in the journal, the API and the audit pages."""

    # verdict reasons (DESIGN section 6)
    ADMITTED = "admitted"
    MALFORMED = "malformed"
    UNSUPPORTED_FORMAT = "unsupported_format"
    UNSUPPORTED_ALGORITHM = "unsupported_algorithm"
    UNKNOWN_KEY = "unknown_key"
    KEY_REVOKED = "key_revoked"
    KEY_RETIRED = "key_retired"
    BAD_SIGNATURE = "bad_signature"
    WRONG_EVENT = "wrong_event"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    ZONE_NOT_ALLOWED = "zone_not_allowed"
    ALREADY_INSIDE = "already_inside"
    ENTRY_LIMIT_REACHED = "entry_limit_reached"
    SCREENING_REQUIRED = "screening_required"
    SCREENING_FAILED = "screening_failed"
    BUNDLE_STALE = "bundle_stale"
    CLOCK_SUSPECT = "clock_suspect"
    # errors of the tools around the verdicts
    BUNDLE_INVALID = "bundle_invalid"
    BUNDLE_ROLLBACK = "bundle_rollback"
    WRONG_ROOT = "wrong_root"
    KEY_FILE_INVALID = "key_file_invalid"
    WRONG_PASSPHRASE = "wrong_passphrase"  # noqa: S105 - a reason code, not a secret
    NO_SIGNING_KEY = "no_signing_key"
    KEY_EXISTS = "key_exists"
    CONFIG_INVALID = "config_invalid"
    SCHEMA_OUTDATED = "schema_outdated"
    NOT_FOUND = "not_found"
    ALREADY_EXISTS = "already_exists"
    INVALID_INPUT = "invalid_input"
    IMAGE_UNREADABLE = "image_unreadable"
    NO_CODE_FOUND = "no_code_found"
    # people, sessions and delivery (the admin pages and `checkin user`)
    LOGIN_FAILED = "login_failed"
    ACCOUNT_LOCKED = "account_locked"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    FORBIDDEN = "forbidden"
    FORM_EXPIRED = "form_expired"
    WEAK_PASSWORD = "weak_password"  # noqa: S105 - a reason code, not a secret
    MAIL_NOT_CONFIGURED = "mail_not_configured"
    MAIL_FAILED = "mail_failed"
    # gate operator actions, journalled like verdicts
    REFUSED_BY_STAFF = "refused_by_staff"
    CLOCK_ACKNOWLEDGED = "clock_acknowledged"
    # the service's gate API (enrolment, bundle, journal upload)
    ENROLMENT_INVALID = "enrolment_invalid"
    UNAUTHORIZED = "unauthorized"
    DEVICE_REVOKED = "device_revoked"
    JOURNAL_GAP = "gap"
    JOURNAL_FORK = "fork"
    BROKEN_CHAIN = "broken_chain"
    BAD_CHECKPOINT = "bad_checkpoint"
    CLOCK_SKEW = "clock_skew"
    TOO_LARGE = "too_large"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    SERVICE_UNAVAILABLE = "service_unavailable"
    # a guest's details, from a form, a guest list or the issuing API (messages take %(name)s parameters)
    FIELD_REQUIRED = "field_required"
    FIELD_TOO_LONG = "field_too_long"
    CONTROL_CHARACTERS = "control_characters"
    ZONE_REQUIRED = "zone_required"
    ZONE_UNKNOWN = "zone_unknown"
    EMAIL_INVALID = "email_invalid"
    # a guest list's rows
    ROW_NAME_EMPTY = "row_name_empty"
    ROW_ZONE_UNKNOWN = "row_zone_unknown"
    ROW_EMAIL_INVALID = "row_email_invalid"
    ROW_TOO_MANY_CELLS = "row_too_many_cells"
    ROW_ON_LIST = "row_on_list"
    ROW_REPEATED = "row_repeated"
    ROW_SPANS_LINES = "row_spans_lines"
    ROW_UNREADABLE = "row_unreadable"
    # issuing and revoking
    EVENT_OVER = "event_over"
    HAS_ACTIVE_CODE = "has_active_code"
    ALREADY_REVOKED = "already_revoked"
    # gates
    GATE_ZONE_INVALID = "gate_zone_invalid"
    DIRECTION_INVALID = "direction_invalid"


# (Vietnamese, English): short enough for a gate banner, plain enough for a guest.
MESSAGES: dict[Reason, tuple[str, str]] = {
    Reason.ADMITTED: ("Mời vào", "Admitted"),
    Reason.MALFORMED: ("Mã không đọc được hoặc bị hỏng", "The code is unreadable or damaged"),
    Reason.UNSUPPORTED_FORMAT: ("Không phải mã của sự kiện này", "Not a code this system issues"),
    Reason.UNSUPPORTED_ALGORITHM: (
        "Mã dùng thuật toán ký không được chấp nhận",
        "The code uses a signature algorithm that is not accepted",
    ),
    Reason.UNKNOWN_KEY: ("Mã do nơi không được tin cậy phát hành", "The code was issued by an unknown key"),
    Reason.KEY_REVOKED: ("Khóa phát hành mã đã bị thu hồi", "The key that issued this code has been revoked"),
    Reason.KEY_RETIRED: (
        "Mã được ký sau khi khóa đã ngừng sử dụng",
        "The code was signed after its key was retired",
    ),
    Reason.BAD_SIGNATURE: ("Chữ ký không hợp lệ: mã giả hoặc bị sửa", "Invalid signature: forged or altered code"),
    Reason.WRONG_EVENT: ("Mã của sự kiện khác", "The code is for another event"),
    Reason.NOT_YET_VALID: ("Mã chưa đến thời gian sử dụng", "The code is not valid yet"),
    Reason.EXPIRED: ("Mã đã hết hạn", "The code has expired"),
    Reason.REVOKED: ("Mã đã bị thu hồi", "The code has been revoked"),
    Reason.ZONE_NOT_ALLOWED: ("Không được vào khu vực này", "Not allowed into this zone"),
    Reason.ALREADY_INSIDE: ("Mã này đã vào và chưa ra", "This code already entered and has not left"),
    Reason.ENTRY_LIMIT_REACHED: ("Mã đã hết số lượt vào", "The code has no entries left"),
    Reason.SCREENING_REQUIRED: ("Cần khai báo y tế và đo thân nhiệt", "Health screening required"),
    Reason.SCREENING_FAILED: ("Mời gặp nhân viên y tế", "Please see the medical staff"),
    Reason.BUNDLE_STALE: (
        "Dữ liệu xác thực của cổng đã quá hạn: cần đồng bộ",
        "The gate's trust data is out of date: sync needed",
    ),
    Reason.CLOCK_SUSPECT: (
        "Đồng hồ của máy quét bị lùi: cần người phụ trách xác nhận",
        "The gate's clock went backwards: a supervisor must confirm",
    ),
    Reason.BUNDLE_INVALID: ("Gói tin cậy không hợp lệ", "The trust bundle is invalid"),
    Reason.BUNDLE_ROLLBACK: (
        "Gói tin cậy cũ hơn gói đang dùng",
        "The trust bundle is older than the one in use",
    ),
    Reason.WRONG_ROOT: (
        "Gói tin cậy không do khóa gốc đã ghim ký",
        "The trust bundle is not signed by the pinned root key",
    ),
    Reason.KEY_FILE_INVALID: ("Tệp khóa không hợp lệ", "The key file is invalid"),
    Reason.WRONG_PASSPHRASE: ("Sai mật khẩu khóa", "Wrong key passphrase"),
    Reason.NO_SIGNING_KEY: ("Chưa có khóa phát hành đang hoạt động", "There is no active issuing key"),
    Reason.KEY_EXISTS: ("Khóa đã tồn tại", "The keys already exist"),
    Reason.CONFIG_INVALID: ("Cấu hình không hợp lệ", "The configuration is invalid"),
    Reason.SCHEMA_OUTDATED: (
        "Cơ sở dữ liệu chưa có lược đồ hoặc lược đồ đã cũ",
        "The database has no schema or an older one",
    ),
    Reason.NOT_FOUND: ("Không tìm thấy", "Not found"),
    Reason.ALREADY_EXISTS: ("Đã tồn tại", "Already exists"),
    Reason.INVALID_INPUT: ("Dữ liệu nhập không hợp lệ", "Invalid input"),
    Reason.IMAGE_UNREADABLE: ("Không mở được ảnh", "The image cannot be read"),
    Reason.NO_CODE_FOUND: ("Không tìm thấy mã QR trong ảnh", "No QR code found in the image"),
    Reason.LOGIN_FAILED: ("Sai tên đăng nhập hoặc mật khẩu", "Wrong user name or password"),
    Reason.ACCOUNT_LOCKED: (
        "Tài khoản tạm bị khóa vì nhập sai mật khẩu nhiều lần",
        "The account is locked for a while after too many wrong passwords",
    ),
    Reason.TOO_MANY_ATTEMPTS: ("Quá nhiều lần thử: hãy đợi rồi thử lại", "Too many attempts: wait, then try again"),
    Reason.FORBIDDEN: ("Vai trò của bạn không được phép làm việc này", "Your role does not allow this"),
    Reason.FORM_EXPIRED: (
        "Biểu mẫu đã hết hạn hoặc không hợp lệ: hãy tải lại trang rồi thử lại",
        "The form has expired or is invalid: reload the page and try again",
    ),
    Reason.WEAK_PASSWORD: ("Mật khẩu quá ngắn hoặc quá dễ đoán", "The password is too short or too easy to guess"),
    Reason.MAIL_NOT_CONFIGURED: ("Chưa cấu hình gửi thư điện tử", "E-mail delivery is not configured"),
    Reason.MAIL_FAILED: ("Không gửi được thư điện tử", "The e-mail could not be sent"),
    Reason.REFUSED_BY_STAFF: ("Nhân viên đã từ chối cho vào", "Refused entry by staff"),
    Reason.CLOCK_ACKNOWLEDGED: (
        "Người phụ trách đã xác nhận đồng hồ của máy quét",
        "A supervisor confirmed the gate's clock",
    ),
    Reason.ENROLMENT_INVALID: (
        "Mã đăng ký cổng không đúng, đã dùng hoặc đã hết hạn",
        "The gate enrolment code is wrong, used or expired",
    ),
    Reason.UNAUTHORIZED: ("Thiết bị chưa được xác thực", "The device is not authenticated"),
    Reason.DEVICE_REVOKED: ("Thiết bị đã bị thu hồi quyền truy cập", "The device has been revoked"),
    Reason.JOURNAL_GAP: (
        "Nhật ký thiếu dòng: gửi lại từ dòng tiếp theo đã xác nhận",
        "Journal rows are missing: resend from the row after the acknowledged one",
    ),
    Reason.JOURNAL_FORK: (
        "Nhật ký bị rẽ nhánh: cùng số thứ tự nhưng nội dung khác",
        "The journal forked: the same sequence number with other content",
    ),
    Reason.BROKEN_CHAIN: ("Chuỗi băm của nhật ký bị đứt", "The journal's hash chain is broken"),
    Reason.BAD_CHECKPOINT: (
        "Điểm kiểm tra nhật ký không do khóa của thiết bị ký hoặc không khớp",
        "The journal checkpoint is not signed by the device key or does not match",
    ),
    Reason.CLOCK_SKEW: ("Đồng hồ của máy quét lệch so với máy chủ", "The gate's clock differs from the server's"),
    Reason.TOO_LARGE: ("Yêu cầu quá lớn", "The request is too large"),
    Reason.METHOD_NOT_ALLOWED: ("Phương thức không được hỗ trợ", "Method not allowed"),
    Reason.SERVICE_UNAVAILABLE: ("Dịch vụ tạm thời không sẵn sàng", "The service is temporarily unavailable"),
    Reason.FIELD_REQUIRED: ("Bắt buộc nhập.", "This field is required."),
    Reason.FIELD_TOO_LONG: ("Tối đa %(limit)d ký tự.", "At most %(limit)d characters."),
    Reason.CONTROL_CHARACTERS: ("Không được chứa ký tự điều khiển.", "Control characters are not allowed."),
    Reason.ZONE_REQUIRED: ("Chọn ít nhất một khu vực.", "Choose at least one zone."),
    Reason.ZONE_UNKNOWN: ("Khu vực không có trong sự kiện: %(zones)s.", "Unknown zone: %(zones)s."),
    Reason.EMAIL_INVALID: ("Địa chỉ e-mail không hợp lệ.", "Not a valid e-mail address."),
    Reason.ROW_NAME_EMPTY: ("Thiếu họ tên.", "The name is empty."),
    Reason.ROW_ZONE_UNKNOWN: (
        "Khu vực không có: %(zones)s; sự kiện có %(known)s.",
        "Unknown zone(s) %(zones)s; the event has %(known)s.",
    ),
    Reason.ROW_EMAIL_INVALID: (
        "Địa chỉ e-mail '%(email)s' không hợp lệ.",
        "The e-mail address '%(email)s' is not valid.",
    ),
    Reason.ROW_TOO_MANY_CELLS: (
        "Dòng có %(cells)d ô nhưng tiêu đề chỉ có %(columns)d cột.",
        "%(cells)d cells, but the header has %(columns)d columns.",
    ),
    Reason.ROW_ON_LIST: ("Đã có trong danh sách khách.", "Already on the guest list."),
    Reason.ROW_REPEATED: ("Trùng với khách ở dòng %(line)d.", "The same guest as line %(line)d."),
    Reason.ROW_SPANS_LINES: (
        "Một ô kéo dài từ dòng %(start)d đến dòng %(end)d: ô có xuống dòng, hoặc thiếu dấu ngoặc kép đóng.",
        "A cell runs from line %(start)d to line %(end)d: a line break in a cell, or a quote left open.",
    ),
    Reason.ROW_UNREADABLE: (
        "Không đọc được dòng này (có ô quá dài), cũng như các dòng sau nó.",
        "This row cannot be read (a cell is far too long), nor the rows after it.",
    ),
    Reason.EVENT_OVER: (
        "Sự kiện đã kết thúc: mã cấp ra sẽ hết hạn ngay.",
        "The event is over: its codes would already have expired.",
    ),
    Reason.HAS_ACTIVE_CODE: (
        "Khách này đang có mã còn hiệu lực; dùng “Cấp lại mã” để thay mã.",
        "This guest already has an active code; use Re-issue to replace it.",
    ),
    Reason.ALREADY_REVOKED: ("Mã này đã bị thu hồi trước đó.", "This code is already revoked."),
    Reason.GATE_ZONE_INVALID: ("Chọn một khu vực của sự kiện.", "Choose one of the event's zones."),
    Reason.DIRECTION_INVALID: ("Chọn chiều vào hoặc ra.", "Choose in or out."),
}

# The reasons a gate may show, with the verdict each leads to; everything else is deny.
_REFER = {Reason.SCREENING_REQUIRED, Reason.SCREENING_FAILED, Reason.CLOCK_SUSPECT}


def verdict_for(reason: Reason) -> Verdict:
    """The verdict a reason leads to: deny by default."""
    if reason is Reason.ADMITTED:
        return Verdict.ADMIT
    if reason in _REFER:
        return Verdict.REFER
    return Verdict.DENY


def message(reason: Reason, lang: str = "vi") -> str:
    """The human message of a reason, in Vietnamese ("vi") or English ("en")."""
    vi, en = MESSAGES[reason]
    return en if lang == "en" else vi


class CheckinError(Exception):
    """Base of every error we raise: a reason code plus a detail naming what and where."""

    default_reason: Reason = Reason.INVALID_INPUT

    def __init__(self, detail: str = "", reason: Reason | None = None) -> None:
        self.reason = reason if reason is not None else self.default_reason
        self.detail = detail
        super().__init__(self.text())

    @property
    def code(self) -> str:
        """The reason code as the word users see."""
        return self.reason.value

    def text(self, lang: str = "en") -> str:
        """One line for a person: the reason's message, then the detail."""
        head = message(self.reason, lang)
        return f"{head}: {self.detail}" if self.detail else head


class CredentialError(CheckinError):
    """A code failed verification; the reason says at which step.

    `kid` is set once the header was read (a hint only); `credential` only once the signature
    held, so the journal can name whose revoked or expired code was shown.
    """

    default_reason = Reason.MALFORMED
    kid: bytes | None = None
    credential: Any = None


class TrustError(CheckinError):
    """A trust bundle or root key cannot be used."""

    default_reason = Reason.BUNDLE_INVALID


class KeyStoreError(CheckinError):
    """A key file is missing, unreadable, locked or in the wrong state."""

    default_reason = Reason.KEY_FILE_INVALID


class ConfigError(CheckinError):
    """A configuration file or value is wrong; the detail names the file and key."""

    default_reason = Reason.CONFIG_INVALID


class InputError(CheckinError):
    """Bad input from a person or file: a CSV row, a CLI option, a request field."""

    default_reason = Reason.INVALID_INPUT
